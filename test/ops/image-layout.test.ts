/**
 * Without a Docker engine, the next best check of the CPU image: lay out a
 * directory exactly as the Dockerfile's runtime stage does (its COPY list,
 * WORKDIR, ENV and CMD, parsed from the file), compile `dist` the way the
 * build stage does, and start the real service from it. If a COPY is missing
 * or the service starts reading a file the image does not ship, this fails.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '../helpers/fixtures.js';
import { copiesOf, envOf, lastOf, parseDockerfile, readRepo, repoPath, type Stage } from './support.js';
import { freePort } from '../helpers/rtsp.js';

const df = parseDockerfile(readRepo('Dockerfile'));
const runtime = df.stages.find((s) => s.name === 'runtime') as Stage;
const WORKDIR = lastOf(runtime, 'WORKDIR')!.args;
const CMD = JSON.parse(lastOf(runtime, 'CMD')!.args) as string[];
const HEALTH = JSON.parse(lastOf(runtime, 'HEALTHCHECK')!.args.replace(/^(--\S+\s+)*CMD\s+/, '')) as string[];


function inApp(app: string, imagePath: string): string {
  const abs = imagePath.startsWith('/') ? imagePath : join(WORKDIR, imagePath);
  return join(app, abs.slice(WORKDIR.length));
}

describe('the CPU image layout (Dockerfile runtime stage, assembled without Docker)', () => {
  let tmp: string;
  let app: string;
  let port: number;
  let service: ChildProcess | undefined;
  let exited: Promise<number | null>;
  let log = '';

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'image-layout-'));
    app = join(tmp, 'app');
    mkdirSync(app);

    // Build stage products: dist from `npm run build`, the model cache from `models:fetch`.
    const tsc = spawnSync(process.execPath, [repoPath('node_modules/typescript/bin/tsc'), '-p', repoPath('tsconfig.build.json'), '--outDir', join(tmp, 'build-dist')], { encoding: 'utf8' });
    expect(tsc.status, `npm run build would fail:\n${tsc.stdout}`).toBe(0);
    const cache = join(tmp, 'build-cache');
    mkdirSync(cache);
    for (const name of ['mobilenetv2-12-int8.onnx', 'imagenet_labels.json']) copyFileSync(await fixturePath('model', name), join(cache, name));
    const fromBuild: Record<string, string> = { dist: join(tmp, 'build-dist'), 'node_modules': repoPath('node_modules'), '.cache/models': cache };

    for (const c of copiesOf(runtime)) {
      const dest = inApp(app, c.dest);
      for (const src of c.sources) {
        const rel = c.from === 'build' ? src.replace(/^\/app\//, '') : src;
        const origin = fromBuild[rel] ?? repoPath(rel);
        const target = c.sources.length > 1 || c.dest.endsWith('/') ? join(dest, basename(rel)) : dest;
        mkdirSync(dirname(target), { recursive: true });
        // node_modules is linked, not copied: it is large and read-only here.
        if (rel === 'node_modules') symlinkSync(origin, target, 'dir');
        else cpSync(origin, target, { recursive: true });
      }
    }
    mkdirSync(join(app, 'data', 'inference'), { recursive: true });

    // The image's environment, with its absolute /app paths moved into the temporary app.
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(envOf(runtime))) env[k] = v.startsWith(`${WORKDIR}/`) ? inApp(app, v) : v;
    if (!existsSync(env.FFMPEG_BIN ?? '')) delete env.FFMPEG_BIN;
    port = await freePort();
    Object.assign(env, { APP_HOST: '127.0.0.1', APP_PORT: String(port), APP_EMF_INTERVAL_S: '1' });

    // A clean environment: nothing from this checkout (like ../shared) may leak in.
    service = spawn(CMD[0] === 'node' ? process.execPath : (CMD[0] as string), CMD.slice(1), {
      cwd: app,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmp, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    service.stdout!.on('data', (b: Buffer) => (log += b.toString()));
    service.stderr!.on('data', (b: Buffer) => (log += b.toString()));
    exited = new Promise((resolve) => service!.once('exit', (code) => resolve(code)));
  }, 240_000);

  afterAll(async () => {
    if (service && service.exitCode === null && service.pid !== undefined) {
      service.kill('SIGKILL');
      await exited;
    }
    rmSync(tmp, { recursive: true, force: true });
  });

  /** Polls until the service answers (start-up loads a model and starts ffmpeg). */
  async function get(path: string): Promise<Response> {
    let lastError: unknown;
    for (let i = 0; i < 120; i++) {
      if (service!.exitCode !== null) throw new Error(`service exited ${service!.exitCode}:\n${log}`);
      try {
        return await fetch(`http://127.0.0.1:${port}${path}`);
      } catch (err) {
        lastError = err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    throw new Error(`no answer on ${path}: ${String(lastError)}\n${log}`);
  }

  it('ships no model or media file of its own: models come from the baked cache', () => {
    expect(readdirSync(join(app, 'models')).filter((f) => f.endsWith('.onnx'))).toEqual([]);
    expect(existsSync(join(tmp, 'shared'))).toBe(false);
  });

  it('starts, passes its own HEALTHCHECK and serves the dashboard, docs and metrics', async () => {
    const health = await get('/health');
    expect(health.status, log).toBe(200);
    expect(((await health.json()) as { model: string }).model).toBe('mobilenet_v2_int8');
    const check = spawnSync(process.execPath, [HEALTH[1]!, HEALTH[2]!], { env: { ...process.env, APP_PORT: String(port) } });
    expect(check.status).toBe(0);
    expect((await get('/')).status).toBe(200);
    expect((await get('/docs')).status).toBe(200);
    const metrics = await (await get('/metrics')).text();
    expect(metrics).toMatch(/^# TYPE stream_ml_engine_info gauge$/m);
    expect(metrics).toMatch(/^stream_ml_engine_info\{model="mobilenet_v2_int8",provider="cpu"\} 1$/m);
  });

  it('writes the model cache sha256 store (why the image chowns .cache/models)', () => {
    expect(readdirSync(join(app, '.cache', 'models')).some((f) => f.startsWith('sha256'))).toBe(true);
  });

  it('writes CloudWatch EMF lines to stdout', async () => {
    for (let i = 0; i < 240 && !log.includes('"_aws"'); i++) await new Promise((r) => setTimeout(r, 250));
    const line = log.split('\n').find((l) => l.includes('"_aws"'));
    expect(line, log).toBeDefined();
    expect(JSON.parse(line!)._aws.CloudWatchMetrics[0].Namespace).toBe('StreamMlService');
  });

  it('exits 0 on SIGTERM (what `docker stop` and ECS send)', async () => {
    service!.kill('SIGTERM');
    expect(await exited, log).toBe(0);
  });
});
