/**
 * The service as a real process (src/main.ts, or `npm start`): spawned with a
 * file camera whose unique path marks its ffmpeg children, orphans included.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { descendants, listProcesses, serviceListening, waitFor } from './processes.js';
import { PROJECT_ROOT, SLIDESHOW_360P, testConfig, withModelFiles } from './service.js';

export interface ServiceProcess {
  child: ChildProcess;
  /** Marks this service's ffmpeg processes (a unique file name in their command line). */
  marker: string;
  /** Resolves with the listening port, rejects when the process exits first. */
  listening: Promise<number>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The pid of the node process that runs the service (the child itself, or npm's child). */
  servicePid(): number | undefined;
  output(): string;
}

export interface SpawnServiceOptions {
  /** 'node': node --import tsx src/main.ts; 'npm': npm start (builds dist/ first when needed). */
  via: 'node' | 'npm';
  env?: Record<string, string>;
  /** Extra YAML appended to the config file. */
  yaml?: string;
  /** File cameras `one`, `two`, … on the marked clip (default 1). */
  cameras?: number;
  /** Each JSON log record of the service, as it comes. */
  onRecord?: (record: Record<string, unknown>) => void;
  /** Wraps the command, e.g. to put a shell between the test and the service. */
  wrap?: (command: string, args: string[]) => { command: string; args: string[] };
  spawnOptions?: SpawnOptions;
}

export async function spawnService(options: SpawnServiceOptions): Promise<ServiceProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'service-process-'));
  const marker = `svc-clip-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}.mp4`;
  symlinkSync(SLIDESHOW_360P, join(dir, marker));
  const config = await withModelFiles(testConfig());
  const cameras = ['one', 'two', 'three', 'four'].slice(0, options.cameras ?? 1).map((id) => `  - { id: ${id}, url: ${join(dir, marker)}, fps: 5 }\n`);
  writeFileSync(join(dir, 'config.yaml'), `cameras:\n${cameras.join('')}${options.yaml ?? ''}`);
  const base = options.via === 'npm' ? { command: 'npm', args: ['start', '--silent'] } : { command: process.execPath, args: ['--import', 'tsx', 'src/main.ts'] };
  const { command, args } = options.wrap ? options.wrap(base.command, base.args) : base;
  const child = spawn(command, args, {
    cwd: PROJECT_ROOT,
    env: {
      ...process.env,
      APP_CONFIG_PATH: join(dir, 'config.yaml'),
      APP_HOST: '127.0.0.1',
      APP_PORT: '0',
      APP_MODELS_DIR: config.model.models_dir,
      APP_DATA_DIR: join(dir, 'data'),
      APP_LOG_LEVEL: 'info',
      APP_EMF_INTERVAL_S: '0',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...options.spawnOptions,
  });
  let output = '';
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  // npm start may build dist/ first: a roomy bound.
  const listening = serviceListening(child, { timeoutMs: 180_000, onRecord: options.onRecord }).catch((err: Error) => {
    throw new Error(`${err.message}:\n${output}`);
  });
  // Found once while the tree is intact; it stays valid after the service is re-parented.
  let found: number | undefined;
  const servicePid = (): number | undefined => {
    if (found !== undefined) return found;
    const tree = [...listProcesses().filter((p) => p.pid === child.pid), ...descendants(child.pid)];
    found = tree.find((p) => p.cmdline.some((a) => a.endsWith('dist/main.js') || a.endsWith('src/main.ts')) && p.comm !== 'sh')?.pid;
    return found;
  };
  return { child, marker, listening, exited, servicePid, output: () => output };
}

/** True while a process with this pid exists and is not a zombie. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const p = listProcesses().find((q) => q.pid === pid);
  return p !== undefined && p.state !== 'Z';
}

/** Waits until the service's ffmpeg child is running (the camera really streams). */
export function waitForFfmpeg(svc: ServiceProcess, timeoutMs = 30_000): Promise<boolean> {
  return waitFor(() => {
    const pid = svc.servicePid();
    return pid !== undefined && descendants(pid).some((p) => p.comm === 'ffmpeg');
  }, timeoutMs);
}
