/**
 * The process as Docker and ECS run it: SIGTERM drains, stops every ffmpeg
 * child and exits 0 within the deadline. Also checks /metrics while a file
 * camera runs, and that a bad config value stops start-up with one line.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { descendants, ffmpegChildren, waitFor } from '../helpers/processes.js';
import { PROJECT_ROOT } from '../helpers/service.js';
import { spawnService } from '../helpers/service-process.js';

const DEADLINE_MS = 15_000;

describe('service process', () => {
  it('exits 0 on SIGTERM within the deadline with no ffmpeg child left', async () => {
    const emfLines: Record<string, unknown>[] = [];
    // The clip's unique name (marker) marks this test's ffmpeg processes, orphans included.
    const { child, marker, listening, exited } = await spawnService({
      via: 'node',
      cameras: 2,
      env: { APP_EMF_INTERVAL_S: '1', APP_SHUTDOWN_DEADLINE_MS: String(DEADLINE_MS) },
      onRecord: (record) => {
        if (record._aws) emfLines.push(record);
      },
    });
    const port = await listening;
    const base = `http://127.0.0.1:${port}`;

    // Both cameras stream, and /metrics carries their series.
    expect(
      await waitFor(() => descendants(child.pid).filter((p) => p.comm === 'ffmpeg').length === 2, 20_000),
    ).toBe(true);
    let metrics = '';
    const ok = await (async () => {
      for (let i = 0; i < 100; i++) {
        metrics = await (await fetch(`${base}/metrics`)).text();
        if (/frames_out_total\{[^}]*camera="one"[^}]*\} [1-9]/.test(metrics) && /camera="two"/.test(metrics)) return true;
        await new Promise((r) => setTimeout(r, 200));
      }
      return false;
    })();
    expect(ok, metrics.slice(0, 2000)).toBe(true);
    expect(metrics).toMatch(/^# TYPE \S+ (counter|gauge|summary)$/m);
    // The first EMF line comes one interval after start; on a busy machine that can be after /metrics is ready.
    await waitFor(() => emfLines.length > 0, 30_000);
    expect(emfLines.length).toBeGreaterThan(0);
    expect(emfLines[0]).toHaveProperty('_aws.CloudWatchMetrics');

    const sentAt = Date.now();
    child.kill('SIGTERM');
    const { code } = await exited;
    expect(code).toBe(0);
    expect(Date.now() - sentAt).toBeLessThan(DEADLINE_MS);
    expect(ffmpegChildren(marker)).toEqual([]);
  }, 90_000);

  it('stops with one clear line on an invalid configuration value', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, APP_PORT: 'eighty' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(2);
    expect(stderr.trim()).toBe('config error: environment: APP_PORT (server.port) = "eighty" is invalid; allowed: an integer from 0 to 65535');
  }, 30_000);
});
