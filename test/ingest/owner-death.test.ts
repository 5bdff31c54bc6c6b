import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/processes.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/camera-owner.ts', import.meta.url));
let owner: ChildProcess | null = null;
let silent: Server | null = null;
const sockets: Socket[] = [];

afterEach(async () => {
  owner?.kill('SIGKILL');
  owner = null;
  for (const s of sockets.splice(0)) s.destroy();
  await new Promise<void>((resolve) => (silent ? silent.close(() => resolve()) : resolve()));
  silent = null;
});

/** An "RTSP server" on 127.0.0.1 that accepts and never answers: its ffmpeg writes nothing and waits. */
async function silentServer(): Promise<string> {
  silent = createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => silent?.listen(0, '127.0.0.1', resolve));
  const address = silent.address();
  return `rtsp://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/live`;
}

/** Alive and not a zombie (an orphan's zombie is reaped by init moments later). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function startOwner(mode: 'exit' | 'hang', url: string): Promise<number> {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, mode, url], { stdio: ['ignore', 'pipe', 'inherit'] });
  owner = child;
  return new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /FFMPEG (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => {
      const m = /FFMPEG (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
      else reject(new Error(`camera owner exited with ${code} before streaming`));
    });
  });
}

describe('an owner that dies leaves no ffmpeg behind', () => {
  it('process.exit() without close() kills even an ffmpeg that is waiting on a silent server', async () => {
    // Nothing to write means no broken pipe: only the owner's exit hook can end it before its 10 s timeout.
    const pid = await startOwner('exit', await silentServer());
    expect(pid).toBeGreaterThan(0);
    // Bounded below ffmpeg's own 10 s timeout, with room for a busy machine.
    expect(await waitFor(() => !alive(pid), 8000)).toBe(true);
  });

  it('kill -9 of the owner: ffmpeg ends on its broken output pipe', async () => {
    const pid = await startOwner('hang', 'lavfi:testsrc2=size=320x240:rate=25');
    expect(alive(pid)).toBe(true);
    owner?.kill('SIGKILL');
    expect(await waitFor(() => !alive(pid), 10_000)).toBe(true);
  });
});
