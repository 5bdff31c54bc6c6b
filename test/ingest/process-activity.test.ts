import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivityWatch, readProcessActivity, type ProcessActivity } from '../../src/ingest/process-activity.js';
import { waitFor } from '../helpers/processes.js';

const children: ChildProcess[] = [];
function start(command: string, args: string[]): number {
  const child = spawn(command, args, { stdio: 'ignore' });
  children.push(child);
  return child.pid as number;
}

afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

describe('readProcessActivity (Linux /proc)', () => {
  it('sees a busy process use CPU and a sleeping one use none', async () => {
    const busy = start('sh', ['-c', 'while :; do :; done']);
    const sleeping = start('sleep', ['30']);
    expect(await waitFor(() => (readProcessActivity(busy)?.cpuNs ?? 0) >= 50_000_000, 20_000)).toBe(true);
    const first = readProcessActivity(sleeping);
    expect(first).not.toBeNull();
    expect(first!.cpuNs).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 100));
    expect(readProcessActivity(sleeping)).toEqual({ cpuNs: first!.cpuNs, waitedNs: first!.waitedNs, runnable: false });
  });

  it('sees a thread run while the main thread sleeps, and counts the time threads waited for a CPU', async () => {
    // Node with one worker thread that spins: the main thread sleeps in its event loop.
    const pid = start(process.execPath, ['-e', "new (require('node:worker_threads').Worker)('for (;;) {}', { eval: true }); setInterval(() => {}, 60_000);"]);
    const mainState = (): string | undefined => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
    expect(await waitFor(() => mainState() === 'S' && readProcessActivity(pid)?.runnable === true, 20_000)).toBe(true);
    // Every thread's run-queue wait is summed (schedstat); it never goes back.
    const a = readProcessActivity(pid)!;
    const b = readProcessActivity(pid)!;
    expect(b.waitedNs).toBeGreaterThanOrEqual(a.waitedNs);
  });

  it('answers null for a process that is gone', async () => {
    const child = spawn('true', [], { stdio: 'ignore' });
    await new Promise((resolve) => child.once('exit', resolve));
    expect(readProcessActivity(child.pid as number)).toBeNull();
  });
});

describe('ActivityWatch', () => {
  it('is working when CPU was used since the last look or the process waits for a CPU', () => {
    const readings: (ProcessActivity | null)[] = [
      { cpuNs: 10_000_000, waitedNs: 500, runnable: false }, // at construction
      { cpuNs: 14_000_000, waitedNs: 500, runnable: false }, // used 4 ms of CPU
      { cpuNs: 14_050_000, waitedNs: 600, runnable: false }, // asleep on a socket: woke for 50 µs, not runnable
      { cpuNs: 14_050_000, waitedNs: 600, runnable: true }, // waits on a run queue now (starved)
      { cpuNs: 14_300_000, waitedNs: 9_000_000, runnable: false }, // little CPU, but its threads waited 9 ms for one (starved)
      { cpuNs: 14_300_000, waitedNs: 9_000_000, runnable: false }, // asleep again
      null, // gone
    ];
    const watch = new ActivityWatch(1, () => readings.shift() ?? null);
    expect(Array.from({ length: 6 }, () => watch.working())).toEqual([true, false, true, true, false, false]);
  });

  it('tells a stopped real process from a busy one', async () => {
    const busy = start('sh', ['-c', 'while :; do :; done']);
    const stopped = start('sh', ['-c', 'while :; do :; done']);
    process.kill(stopped, 'SIGSTOP');
    const state = (pid: number) => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
    expect(await waitFor(() => state(stopped) === 'T', 20_000)).toBe(true);
    const busyWatch = new ActivityWatch(busy);
    const stoppedWatch = new ActivityWatch(stopped);
    expect(await waitFor(() => busyWatch.working(), 20_000)).toBe(true);
    expect(stoppedWatch.working()).toBe(false);
  });
});
