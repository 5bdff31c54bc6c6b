/**
 * Signals as supervisors send them: SIGTERM/SIGINT to the service process, to
 * what `npm start` runs, to npm itself, and the parent dying with SIGKILL.
 * Each time the service stops with its ffmpeg children, exit 0, within the
 * configured deadline.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ffmpegChildren, listProcesses, waitFor } from '../helpers/processes.js';
import { alive, spawnService, waitForFfmpeg, type ServiceProcess } from '../helpers/service-process.js';

const DEADLINE_MS = 15_000;
const running: ServiceProcess[] = [];

afterEach(() => {
  for (const svc of running.splice(0)) {
    const pid = svc.servicePid();
    if (pid !== undefined && alive(pid)) process.kill(pid, 'SIGKILL');
    if (svc.child.exitCode === null) svc.child.kill('SIGKILL');
  }
});

async function started(options: Parameters<typeof spawnService>[0]): Promise<{ svc: ServiceProcess; pid: number }> {
  const svc = await spawnService({ ...options, env: { APP_SHUTDOWN_DEADLINE_MS: String(DEADLINE_MS), ...options.env } });
  running.push(svc);
  await svc.listening;
  expect(await waitForFfmpeg(svc), svc.output()).toBe(true);
  const pid = svc.servicePid();
  expect(pid, svc.output()).toBeDefined();
  return { svc, pid: pid! };
}

/** Waits for the service (not necessarily our child) to be gone; its exit code comes from the log. */
async function stoppedCleanly(svc: ServiceProcess, pid: number): Promise<void> {
  expect(await waitFor(() => !alive(pid), DEADLINE_MS + 5000), svc.output()).toBe(true);
  expect(svc.output()).toMatch(/"msg":"stopped"/);
  expect(svc.output()).not.toMatch(/shutdown deadline passed/);
  expect(ffmpegChildren(svc.marker)).toEqual([]);
}

describe('signals', () => {
  it('SIGINT to the service: exit 0, no ffmpeg left', async () => {
    const { svc, pid } = await started({ via: 'node' });
    process.kill(pid, 'SIGINT');
    expect((await svc.exited).code).toBe(0);
    await stoppedCleanly(svc, pid);
  }, 120_000);

  it('SIGTERM to the process `npm start` started: it is the service itself, exit 0', async () => {
    const { svc, pid } = await started({ via: 'npm' });
    // `exec` in the start script: npm's child is node, not a shell that would die and orphan it.
    expect(listProcesses().find((p) => p.pid === pid)?.ppid).toBe(svc.child.pid);
    process.kill(pid, 'SIGTERM');
    await stoppedCleanly(svc, pid);
    expect((await svc.exited).code).toBe(0);
  }, 240_000);

  it('SIGTERM to npm: npm forwards it and the service stops, no orphan left', async () => {
    const { svc, pid } = await started({ via: 'npm' });
    svc.child.kill('SIGTERM');
    await stoppedCleanly(svc, pid);
    await svc.exited;
  }, 240_000);

  it('the parent dies with SIGKILL: the service notices and stops', async () => {
    // A shell between the test and the service, as a supervisor would be; killing it re-parents the service.
    const { svc, pid } = await started({ via: 'node', wrap: (command, args) => ({ command: '/bin/sh', args: ['-c', `"$0" "$@" & wait`, command, ...args] }) });
    expect(pid).not.toBe(svc.child.pid);
    svc.child.kill('SIGKILL');
    await stoppedCleanly(svc, pid);
  }, 120_000);
});
