/**
 * Safe by default, as the process starts: without keys it listens on
 * 127.0.0.1 only and says how to expose it; a public host without keys is
 * refused; the explicit opt-out is warned about; keys from a file protect
 * every route on all interfaces.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { serviceListening } from '../helpers/processes.js';
import { afterEach, describe, expect, it } from 'vitest';
import { PROJECT_ROOT, testConfig, withModelFiles } from '../helpers/service.js';

const ADMIN_KEY = 'admin-file-key-0123456789abcdef';
const READ_KEY = 'read-file-key-0123456789abcdef';
/** An address of this machine other than loopback, to see what the service is reachable on. */
const PUBLIC_IP = Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal)?.address;

interface Started {
  child: ChildProcess;
  logs: Record<string, unknown>[];
  port: number;
}

const children: ChildProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
});

/** Starts src/main.ts with `env`; resolves at its "listening" line, or with the exit code and stderr. */
async function startProcess(env: Record<string, string>): Promise<Started | { code: number | null; stderr: string }> {
  const config = await withModelFiles(testConfig());
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, APP_PORT: '0', APP_MODELS_DIR: config.model.models_dir, APP_DEMO_CAMERA: 'false', APP_EMF_INTERVAL_S: '0', APP_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) =>
    // Let stderr drain before reporting it.
    child.once('exit', (code) => setImmediate(() => resolve({ code, stderr }))),
  );
  try {
    return { child, logs, port: await serviceListening(child, { timeoutMs: 60_000, onRecord: (record) => logs.push(record) }) };
  } catch (err) {
    if (child.exitCode === null && child.signalCode === null) throw new Error(`${(err as Error).message}: ${stderr}`);
    return exited;
  }
}

function started(result: Started | { code: number | null; stderr: string }): Started {
  if (!('port' in result)) throw new Error(`service exited with ${result.code}: ${result.stderr}`);
  return result;
}

/** Whether a TCP connection to `host:port` is answered over HTTP. */
async function reachable(host: string, port: number): Promise<boolean> {
  try {
    await fetch(`http://${host}:${port}/health`, { signal: AbortSignal.timeout(5000) });
    return true;
  } catch {
    return false;
  }
}

describe('listening address without and with keys', () => {
  it('without keys: 127.0.0.1 only, with one line on how to expose it, and no key needed there', async () => {
    const svc = started(await startProcess({ APP_HOST: '' }));
    const notices = svc.logs.filter((l) => typeof l.msg === 'string' && (l.msg as string).includes('to expose it'));
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({ level: 30, msg: expect.stringContaining('listens on 127.0.0.1 only') });
    expect(notices[0]!.msg).toMatch(/APP_API_KEYS/);
    expect(svc.logs.find((l) => l.msg === 'listening')).toMatchObject({ host: '127.0.0.1', auth: 'off' });
    expect((await fetch(`http://127.0.0.1:${svc.port}/cameras`)).status).toBe(200);
    if (PUBLIC_IP) expect(await reachable(PUBLIC_IP, svc.port)).toBe(false);
  });

  it('a public host without keys stops start-up with exit 2 and one line naming the fix', async () => {
    const result = await startProcess({ APP_HOST: '0.0.0.0' });
    expect('port' in result).toBe(false);
    const { code, stderr } = result as { code: number | null; stderr: string };
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/^config error: server\.host = "0\.0\.0\.0" is not a loopback address and no API keys are configured; to expose it, set API keys .*server\.auth\.disabled: true/);
  });

  it('the explicit opt-out listens on all interfaces and warns at start', async () => {
    const svc = started(await startProcess({ APP_HOST: '', APP_AUTH_DISABLED: 'true' }));
    const warnings = svc.logs.filter((l) => l.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toMatch(/authentication is DISABLED \(server\.auth\.disabled: true\) and the service listens on 0\.0\.0\.0/);
    expect(svc.logs.find((l) => l.msg === 'listening')).toMatchObject({ host: '0.0.0.0', auth: 'off' });
    if (PUBLIC_IP) expect(await reachable(PUBLIC_IP, svc.port)).toBe(true);
  });

  it('keys from APP_API_KEYS_FILE: all interfaces, every protected route needs a key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keys-file-'));
    const file = join(dir, 'api-keys');
    writeFileSync(file, `# mounted from a secret\nadmin:${ADMIN_KEY}\nread:sha256:${createHash('sha256').update(READ_KEY).digest('hex')}\n`, { mode: 0o600 });
    const svc = started(await startProcess({ APP_HOST: '', APP_API_KEYS_FILE: file }));
    expect(svc.logs.find((l) => l.msg === 'listening')).toMatchObject({ host: '0.0.0.0', auth: '2 API key(s)' });
    expect(svc.logs.filter((l) => l.level === 40)).toEqual([]);
    const base = `http://${PUBLIC_IP ?? '127.0.0.1'}:${svc.port}`;
    expect(await (await fetch(`${base}/health`)).json()).toEqual({ status: 'ok' });
    expect((await fetch(`${base}/cameras`)).status).toBe(401);
    expect((await fetch(`${base}/cameras`, { headers: { authorization: `Bearer ${READ_KEY}` } })).status).toBe(200);
    const add = { method: 'POST', body: JSON.stringify({ id: 'x', url: '/nonexistent.mp4' }), headers: { 'content-type': 'application/json' } };
    expect((await fetch(`${base}/cameras`, { ...add, headers: { ...add.headers, authorization: `Bearer ${READ_KEY}` } })).status).toBe(403);
    const metrics = await (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).text();
    expect(metrics).toContain('stream_ml_auth_failures_total{reason="missing"} 1');
    expect(metrics).toContain('stream_ml_auth_failures_total{reason="forbidden"} 1');
    // No log line carries a key.
    expect(JSON.stringify(svc.logs)).not.toContain(ADMIN_KEY);
    expect(JSON.stringify(svc.logs)).not.toContain(READ_KEY);
  });
});
