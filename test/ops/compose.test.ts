import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ENV_KEYS, EXTRA_ENV_KEYS } from '../../src/config/load.js';
import { defaultConfig } from '../../src/config/schema.js';
import { copiesOf, existsInRepo, parseDockerfile, readRepo, repoPath } from './support.js';
import { freePort } from '../helpers/rtsp.js';

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile?: string };
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  profiles?: string[];
  depends_on?: string[];
  deploy?: { resources?: { reservations?: { devices?: { driver?: string; count?: string | number; capabilities?: string[] }[] } } };
}

const compose = parse(readRepo('docker-compose.yml'), { merge: true }) as { services: Record<string, ComposeService>; volumes?: Record<string, unknown> };
const services = compose.services;

describe('docker-compose.yml', () => {
  it('references only files and folders that exist', () => {
    for (const [name, svc] of Object.entries(services)) {
      if (svc.build) {
        expect(existsInRepo(svc.build.context), `${name}: build context ${svc.build.context}`).toBe(true);
        expect(existsInRepo(join(svc.build.context, svc.build.dockerfile ?? 'Dockerfile')), `${name}: dockerfile`).toBe(true);
      }
      for (const volume of svc.volumes ?? []) {
        const source = volume.split(':')[0] as string;
        if (source.startsWith('.') || source.startsWith('/')) expect(existsInRepo(source), `${name}: volume ${source}`).toBe(true);
        else expect(compose.volumes ?? {}, `${name}: named volume ${source}`).toHaveProperty(source);
      }
      for (const dep of svc.depends_on ?? []) expect(services, `${name} depends on ${dep}`).toHaveProperty(dep);
    }
  });

  it('has a publisher image whose COPY sources exist', () => {
    const ctx = services.publisher!.build!.context;
    const df = parseDockerfile(readRepo(join(ctx, 'Dockerfile')));
    for (const c of df.stages.flatMap((s) => copiesOf(s))) for (const src of c.sources) expect(existsInRepo(join(ctx, src)), src).toBe(true);
  });

  it('points the service at the MediaMTX service the publisher feeds', () => {
    const url = new URL(services.service!.environment!.APP_RTSP_URL!);
    expect(url.protocol).toBe('rtsp:');
    const target = services[url.hostname];
    expect(target, `no compose service named ${url.hostname}`).toBeDefined();
    expect(target!.image).toMatch(/^bluenviron\/mediamtx(:|$)/);
    expect(url.port).toBe('8554');
    expect(target!.ports?.some((p) => p.endsWith(':8554'))).toBe(true);
    expect(services.publisher!.environment!.RTSP_TARGET).toBe(url.href);
    expect(services.service!.environment!.APP_DEMO_CAMERA).toBe('false');
  });

  it('publishes the service port and passes only known APP_* variables', () => {
    const port = defaultConfig().server.port;
    for (const name of ['service', 'service-gpu']) {
      const svc = services[name]!;
      expect(svc.ports?.some((p) => p.endsWith(`:${port}`)), name).toBe(true);
      for (const key of Object.keys(svc.environment ?? {}).filter((k) => k.startsWith('APP_'))) {
        expect(ENV_KEYS[key] ?? EXTRA_ENV_KEYS[key], `${name}: ${key}`).toBeDefined();
      }
    }
  });

  it('gives both services their API keys as a Docker secret file, not as environment', () => {
    const secrets = (compose as unknown as { secrets: Record<string, { file: string }> }).secrets;
    expect(secrets.api_keys!.file).toBe('./compose/secrets/api_keys');
    expect(readRepo('.gitignore')).toMatch(/^compose\/secrets\/api_keys$/m);
    for (const name of ['service', 'service-gpu']) {
      const svc = services[name] as ComposeService & { secrets?: string[] };
      expect(svc.secrets, name).toEqual(['api_keys']);
      expect(svc.environment?.APP_API_KEYS_FILE, name).toBe('/run/secrets/api_keys');
      expect(svc.environment, name).not.toHaveProperty('APP_API_KEYS');
    }
  });

  it('runs the CUDA image only in the gpu profile, with an NVIDIA device reservation', () => {
    const gpu = services['service-gpu']!;
    expect(gpu.profiles).toEqual(['gpu']);
    expect(gpu.build?.dockerfile).toBe('Dockerfile.cuda');
    expect(gpu.environment?.APP_PROVIDER).toBe('cuda');
    expect(gpu.environment?.APP_RTSP_URL).toBe(services.service!.environment!.APP_RTSP_URL);
    const device = gpu.deploy?.resources?.reservations?.devices?.[0];
    expect(device?.driver).toBe('nvidia');
    expect(device?.capabilities).toContain('gpu');
    for (const [name, svc] of Object.entries(services)) if (name !== 'service-gpu') expect(svc.profiles, name).toBeUndefined();
  });
});

// --- The publisher script against a real RTSP receiver -------------------


/**
 * ffmpeg as an RTSP server accepting one publish (what MediaMTX does in the
 * stack): decodes `frames` frames to raw RGB and reports how many bytes came.
 */
function receive(port: number, frames: number): Promise<{ code: number | null; bytes: number }> {
  return new Promise((resolve, reject) => {
    const rx = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-rtsp_flags', 'listen', '-i', `rtsp://127.0.0.1:${port}/live`, '-frames:v', String(frames), '-pix_fmt', 'rgb24', '-f', 'rawvideo', '-'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let bytes = 0;
    rx.stdout.on('data', (chunk: Buffer) => (bytes += chunk.length));
    rx.once('error', reject);
    rx.once('close', (code) => resolve({ code, bytes }));
  });
}

describe('compose/publisher/publish.sh', () => {
  let publisher: ChildProcess | undefined;
  let tmp: string | undefined;

  afterEach(() => {
    // The script runs in its own process group: stop it and its ffmpeg together.
    if (publisher?.pid !== undefined && publisher.exitCode === null) {
      try {
        process.kill(-publisher.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    publisher = undefined;
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    tmp = undefined;
  });

  function startPublisher(env: Record<string, string>): ChildProcess {
    return spawn('sh', [repoPath('compose/publisher/publish.sh')], { env: { ...process.env, ...env }, detached: true, stdio: 'ignore' });
  }

  it('publishes testsrc2 when there is no sample file, and republishes after the server goes away', async () => {
    const port = await freePort();
    const first = receive(port, 10);
    publisher = startPublisher({ RTSP_TARGET: `rtsp://127.0.0.1:${port}/live`, SAMPLE_FILE: '/nonexistent/sample.mp4', TEST_SIZE: '320x240', TEST_FPS: '25' });
    expect(await first).toEqual({ code: 0, bytes: 10 * 320 * 240 * 3 });
    // The receiver has gone, like a restarted MediaMTX; the script must come back.
    expect(await receive(port, 5)).toEqual({ code: 0, bytes: 5 * 320 * 240 * 3 });
  });

  it('loops a mounted sample file', async () => {
    tmp = mkdtempSync(join(tmpdir(), 'publisher-'));
    const sample = join(tmp, 'sample.mp4');
    // A 1 s, 25 fps clip: receiving 40 frames proves it loops.
    const made = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=25', '-t', '1', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', sample]);
    expect(made.status).toBe(0);
    const port = await freePort();
    const rx = receive(port, 40);
    publisher = startPublisher({ RTSP_TARGET: `rtsp://127.0.0.1:${port}/live`, SAMPLE_FILE: sample });
    expect(await rx).toEqual({ code: 0, bytes: 40 * 160 * 120 * 3 });
  });
});
