/**
 * Service processes in cluster mode for the multi-instance tests: each is
 * `node src/main.ts` with its own port and instance id on one Redis, and
 * file cameras are small generated clips whose unique file names let a test
 * count the ffmpeg processes that read each camera, on every instance.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { descendants, listProcesses, serviceListening } from './processes.js';
import { PROJECT_ROOT } from './service.js';

export interface Instance {
  id: string;
  child: ChildProcess;
  base: string;
  exited: Promise<number | null>;
  /** Every JSON log line so far. */
  logs: Record<string, unknown>[];
}

/** A 4 s 160×120 5 fps H.264 clip: cheap to decode on a busy 2-core machine. */
export function makeClip(dir: string): string {
  const path = join(dir, 'clip.mp4');
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=5', '-t', '4', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', '5', path]);
  return path;
}

/** A camera reading `clip` through a file name unique to it (the ffmpeg-counting marker). */
export function cameraFile(dir: string, clip: string, marker: string, id: string): string {
  const path = join(dir, `${marker}-${id}.mp4`);
  symlinkSync(clip, path);
  return path;
}

export async function startInstance(id: string, env: Record<string, string>, timeoutMs = 60_000): Promise<Instance> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, APP_HOST: '127.0.0.1', APP_PORT: '0', APP_LOG_LEVEL: 'info', APP_EMF_INTERVAL_S: '0', APP_INSTANCE_ID: id, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.stderr.resume();
  const port = await serviceListening(child, { timeoutMs, what: `instance ${id}`, onRecord: (record) => logs.push(record) });
  return { id, child, base: `http://127.0.0.1:${port}`, exited, logs };
}

/** SIGTERM and wait; SIGKILL if it overstays. */
export async function stopInstance(instance: Instance): Promise<void> {
  if (instance.child.exitCode !== null || instance.child.signalCode !== null) return;
  instance.child.kill('SIGTERM');
  const timer = setTimeout(() => instance.child.kill('SIGKILL'), 25_000);
  await instance.exited;
  clearTimeout(timer);
}

/** camera id → pids of the ffmpeg processes reading it, across all processes on the machine. */
export function ffmpegPerCamera(marker: string): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const pattern = new RegExp(`${marker}-([A-Za-z0-9_.-]+)\\.mp4$`);
  for (const p of listProcesses()) {
    if (p.comm !== 'ffmpeg' && !(p.cmdline[0] ?? '').endsWith('ffmpeg')) continue;
    if (p.state === 'Z') continue;
    for (const arg of p.cmdline) {
      const match = pattern.exec(arg);
      if (match) out.set(match[1] as string, [...(out.get(match[1] as string) ?? []), p.pid]);
    }
  }
  return out;
}

/** Camera ids whose ffmpeg runs under `instance`. */
export function camerasRunBy(instance: Instance, marker: string): string[] {
  const pids = new Set(descendants(instance.child.pid).map((p) => p.pid));
  const out: string[] = [];
  for (const [camera, list] of ffmpegPerCamera(marker)) if (list.some((pid) => pids.has(pid))) out.push(camera);
  return out.sort();
}

export async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url} answered ${res.status}`);
  return (await res.json()) as T;
}

/** Polls an async condition until it holds or `timeoutMs` passes; returns whether it held. */
export async function waitForAsync(predicate: () => Promise<boolean>, timeoutMs: number, stepMs = 200): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return true;
    if (Date.now() >= end) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
