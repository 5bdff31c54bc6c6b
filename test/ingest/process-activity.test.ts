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
    const first = readProcessActivity(sleeping);
    expect(first).not.toBeNull();
    expect(await waitFor(() => (readProcessActivity(busy)?.cpuTicks ?? 0) >= 5, 20_000)).toBe(true);
    expect(readProcessActivity(sleeping)).toEqual({ cpuTicks: first?.cpuTicks, runnable: false });
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
      { cpuTicks: 10, runnable: false }, // at construction
      { cpuTicks: 12, runnable: false }, // used CPU
      { cpuTicks: 12, runnable: false }, // asleep: nothing used, not runnable
      { cpuTicks: 12, runnable: true }, // waits on a run queue (starved)
      null, // gone
    ];
    const watch = new ActivityWatch(1, () => readings.shift() ?? null);
    expect([watch.working(), watch.working(), watch.working(), watch.working()]).toEqual([true, false, true, false]);
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
