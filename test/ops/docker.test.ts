import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV_KEYS } from '../../src/config/load.js';
import { defaultConfig } from '../../src/config/schema.js';
import { copiesOf, dockerignoreExcludes, envOf, existsInRepo, lastOf, parseDockerfile, readRepo, type Dockerfile, type Stage } from './support.js';

const pkg = JSON.parse(readRepo('package.json')) as { scripts: Record<string, string>; engines: { node: string } };
const ignore = readRepo('.dockerignore');

/** What `npm start` runs once `prestart` has built: the `start` script as an exec array. */
// `exec` in the script only replaces npm's shell with the command (so signals reach it); the command is what counts.
const START = pkg.scripts.start!.trim().replace(/^exec\s+/, '').split(/\s+/);

/** Paths (relative to the app directory) the running service reads. */
const RUNTIME_PATHS = ['package.json', 'node_modules', 'dist', 'models', 'src/api/static', '.cache/models', 'config.example.yaml'];

function stage(df: Dockerfile, name: string): Stage {
  const s = df.stages.find((x) => x.name === name);
  if (!s) throw new Error(`no stage ${name}`);
  return s;
}

function execForm(stageOf: Stage, keyword: string): string[] {
  const ins = lastOf(stageOf, keyword);
  expect(ins, keyword).toBeDefined();
  expect(ins!.args.startsWith('['), `${keyword} must use the exec (JSON) form so signals reach the process`).toBe(true);
  return JSON.parse(ins!.args) as string[];
}

function relativeToWorkdir(stageOf: Stage, dest: string): string {
  const workdir = lastOf(stageOf, 'WORKDIR')?.args ?? '/';
  const abs = dest.startsWith('/') ? dest : `${workdir}/${dest}`;
  return abs.replace(/^\/app\/?/, '').replace(/^\.\//, '').replace(/\/+$/, '').replace(/\/\.$/, '') || '.';
}

/** Runs `node -e <script>` like the HEALTHCHECK does; resolves to the exit code. */
function runHealthcheck(script: string, port: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script], { env: { ...process.env, APP_PORT: String(port) }, stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) => resolve(code));
  });
}

describe.each([
  ['Dockerfile', 'runtime'],
  ['Dockerfile.cuda', 'runtime'],
])('%s', (file, runtimeName) => {
  const df = parseDockerfile(readRepo(file));
  const runtime = stage(df, runtimeName);
  const build = stage(df, 'build');

  it('runs exactly what `npm start` runs after its build step', () => {
    const entrypoint = execForm(runtime, 'ENTRYPOINT');
    const cmd = execForm(runtime, 'CMD');
    expect(cmd).toEqual(START);
    // An init in front is fine; npm in front is not (it would swallow SIGTERM).
    expect(entrypoint.join(' ')).not.toMatch(/\bnpm\b/);
    expect(pkg.scripts.prestart, 'npm start builds first').toMatch(/build/);
    expect(existsInRepo('src/main.ts'), 'dist/main.js is compiled from src/main.ts').toBe(true);
    const outDir = (JSON.parse(readRepo('tsconfig.build.json')) as { compilerOptions: { outDir: string } }).compilerOptions.outDir;
    expect(START[1]!.startsWith(`${outDir}/`)).toBe(true);
  });

  it('copies only files that exist and that .dockerignore lets into the context', () => {
    const fromContext = df.stages.flatMap((s) => copiesOf(s)).filter((c) => c.from === undefined);
    expect(fromContext.length).toBeGreaterThan(3);
    for (const c of fromContext) {
      for (const src of c.sources) {
        expect(existsInRepo(src), `${file}:${c.line} COPY ${src}: not in the repository`).toBe(true);
        expect(dockerignoreExcludes(ignore, src), `${file}:${c.line} COPY ${src}: excluded by .dockerignore`).toBe(false);
      }
    }
  });

  it('copies into the runtime stage only what the build stage produced', () => {
    const copiedIntoBuild = copiesOf(build).flatMap((c) => (c.sources.length === 1 ? [relativeToWorkdir(build, c.dest)] : c.sources));
    const runs = build.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args).join('\n');
    const produced = new Set(copiedIntoBuild);
    if (/\bnpm ci\b/.test(runs)) produced.add('node_modules');
    if (/\bnpm run build\b/.test(runs)) produced.add('dist');
    const cacheDir = envOf(build).APP_MODEL_CACHE_DIR;
    if (cacheDir && runs.includes('mkdir -p "$APP_MODEL_CACHE_DIR"')) produced.add(relativeToWorkdir(build, cacheDir));
    for (const c of copiesOf(runtime).filter((x) => x.from === 'build')) {
      for (const src of c.sources) {
        const rel = relativeToWorkdir(build, src);
        const covered = [...produced].some((p) => rel === p || rel.startsWith(`${p}/`));
        expect(covered, `${file}:${c.line} COPY --from=build ${src}: the build stage never creates it`).toBe(true);
      }
    }
  });

  it('ships every path the service reads at run time', () => {
    const dests = copiesOf(runtime).map((c) => relativeToWorkdir(runtime, c.dest));
    for (const path of RUNTIME_PATHS) expect(dests, path).toContain(path);
    // And those paths exist where the build copies them from.
    for (const path of ['models/manifest.yaml', 'src/api/static/index.html', 'config.example.yaml']) expect(existsInRepo(path), path).toBe(true);
    const env = envOf(runtime);
    expect(relativeToWorkdir(runtime, env.APP_MODEL_CACHE_DIR!)).toBe('.cache/models');
  });

  it('builds with production dependencies only and bakes models unless SKIP_MODEL_FETCH=1', () => {
    const runs = build.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    // Dependency install scripts would download libtensorflow, a second ffmpeg and send analytics.
    expect(runs.find((r) => /\bnpm ci\b/.test(r))).toMatch(/npm ci --ignore-scripts/);
    expect(runs.some((r) => /npm prune --omit=dev/.test(r))).toBe(true);
    const fetch = runs.find((r) => r.includes('npm run models:fetch'));
    expect(fetch).toMatch(/SKIP_MODEL_FETCH" != "1"/);
    expect(pkg.scripts['models:fetch']).toBeDefined();
    expect(build.instructions.some((i) => i.keyword === 'ARG' && i.args.startsWith('SKIP_MODEL_FETCH'))).toBe(true);
    // package.json (whose allowScripts keeps onnxruntime's CUDA download off) is in place before npm ci runs.
    const pkgCopy = copiesOf(build).find((c) => c.sources.includes('package.json'));
    const ci = build.instructions.find((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args));
    expect(pkgCopy!.line).toBeLessThan(ci!.line);
    expect((pkg as { allowScripts?: Record<string, boolean> }).allowScripts?.['onnxruntime-node']).toBe(false);
    // npm 11 warns about (and will drop) unknown .npmrc keys such as onnxruntime-node-install.
    expect(existsInRepo('.npmrc') ? readRepo('.npmrc') : '').not.toMatch(/^onnxruntime-node-install/m);
  });

  it('trims other platforms\' binaries and then proves the native modules still load', () => {
    const prune = build.instructions.find((i) => i.keyword === 'RUN' && i.args.includes('npm prune'))!.args;
    const checkAt = prune.lastIndexOf('node -e');
    expect(checkAt).toBeGreaterThan(prune.lastIndexOf('rm -rf'));
    const check = prune.slice(checkAt);
    for (const mod of ['uWebSockets.js/binaries/uws_linux_${arch}_${abi}.node', 'onnxruntime-node', 'sharp']) expect(check).toContain(`require('${mod}')`);
  });

  it('runs as a non-root user, exposes the configured port, stops on SIGTERM', () => {
    const user = lastOf(runtime, 'USER')?.args;
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    expect(lastOf(runtime, 'EXPOSE')?.args).toBe(String(defaultConfig().server.port));
    expect(lastOf(runtime, 'STOPSIGNAL')?.args).toBe('SIGTERM');
    const chowned = copiesOf(runtime).filter((c) => c.chown !== undefined).map((c) => relativeToWorkdir(runtime, c.dest));
    expect(chowned, 'the sha256 store is written into the model cache').toContain('.cache/models');
  });

  it('sets only environment variables the service knows', () => {
    const env = envOf(runtime);
    const appKeys = Object.keys(env).filter((k) => k.startsWith('APP_'));
    expect(appKeys).toContain('APP_MODEL_CACHE_DIR');
    for (const k of appKeys) expect(ENV_KEYS[k], `${k} is not in ENV_KEYS`).toBeDefined();
    expect(env.APP_PORT).toBe(lastOf(runtime, 'EXPOSE')?.args);
  });

  it('installs ffmpeg in the runtime image and points FFMPEG_BIN at it', () => {
    const runs = runtime.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args).join('\n');
    expect(runs).toMatch(/ffmpeg/);
    expect(envOf(runtime).FFMPEG_BIN).toMatch(/\/ffmpeg$/);
  });

  describe('HEALTHCHECK', () => {
    let server: Server;
    let port: number;
    let status = 200;
    const hits: string[] = [];
    const hc = lastOf(runtime, 'HEALTHCHECK')!;
    const cmd = JSON.parse(hc.args.replace(/^(--\S+\s+)*CMD\s+/, '')) as string[];

    beforeAll(async () => {
      server = createServer((req, res) => {
        hits.push(req.url ?? '');
        res.statusCode = req.url === '/health/live' ? status : 404;
        res.end('{}');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as AddressInfo).port;
    });
    afterAll(async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it('uses node (slim images have no curl)', () => {
      expect(cmd.slice(0, 2)).toEqual(['node', '-e']);
      expect(hc.args).not.toMatch(/curl|wget/);
    });

    it('passes on 200 from /health/live and fails on an error status or a dead port', async () => {
      status = 200;
      expect(await runHealthcheck(cmd[2]!, port)).toBe(0);
      expect(hits.at(-1)).toBe('/health/live');
      status = 503;
      expect(await runHealthcheck(cmd[2]!, port)).toBe(1);
      const dead = createServer();
      await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
      const deadPort = (dead.address() as AddressInfo).port;
      await new Promise<void>((resolve) => dead.close(() => resolve()));
      expect(await runHealthcheck(cmd[2]!, deadPort)).toBe(1);
    });
  });
});

describe('Dockerfile (CPU)', () => {
  const df = parseDockerfile(readRepo('Dockerfile'));

  it('builds on Node 20 bookworm-slim (glibc, the ABI uWebSockets.js ships)', () => {
    for (const s of df.stages) expect(s.image).toBe('node:20-bookworm-slim');
    expect(pkg.engines.node).toMatch(/>=\s*20/);
  });

  it('skips the onnxruntime CUDA download', () => {
    expect(envOf(stage(df, 'build')).ONNXRUNTIME_NODE_INSTALL).toBe('skip');
  });
});

describe('Dockerfile.cuda', () => {
  const df = parseDockerfile(readRepo('Dockerfile.cuda'));
  const build = stage(df, 'build');
  const runtime = stage(df, 'runtime');

  it('is based on a CUDA 12 image with cuDNN (9 ships in the 12.x cudnn tags) on Ubuntu 22.04', () => {
    expect(df.stages[0]!.image).toMatch(/^nvidia\/cuda:12\.\d+\.\d+-cudnn-runtime-ubuntu22\.04$/);
  });

  it('installs Node 20 and the CUDA execution provider, and fails the build without it', () => {
    const nodeVersion = df.stages[0]!.instructions.find((i) => i.keyword === 'ARG' && i.args.startsWith('NODE_VERSION='))!.args.split('=')[1]!;
    expect(nodeVersion).toMatch(/^20\./);
    const ci = build.instructions.find((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args))!.args;
    expect(ci).toMatch(/ONNXRUNTIME_NODE_INSTALL=cuda12 npm (ci|rebuild onnxruntime-node)/);
    expect(ci).toContain('libonnxruntime_providers_cuda.so');
  });

  it('selects the CUDA provider and exposes the video capability for NVDEC', () => {
    const env = envOf(runtime);
    expect(env.APP_PROVIDER).toBe('cuda');
    expect(env.NVIDIA_DRIVER_CAPABILITIES?.split(',')).toEqual(expect.arrayContaining(['compute', 'video']));
  });
});

describe('.dockerignore matcher', () => {
  it('follows Docker semantics: parents match, last rule wins, negation re-includes', () => {
    const rules = '*\n!src\nsrc/**/*.test.ts\n!models\nmodels/**/*.onnx\n';
    expect(dockerignoreExcludes(rules, 'node_modules/x/index.js')).toBe(true);
    expect(dockerignoreExcludes(rules, 'src/api/static/index.html')).toBe(false);
    expect(dockerignoreExcludes(rules, 'src/a/b.test.ts')).toBe(true);
    expect(dockerignoreExcludes(rules, 'models/manifest.yaml')).toBe(false);
    expect(dockerignoreExcludes(rules, 'models/big.onnx')).toBe(true);
  });

  it('keeps local build output, caches and secrets out of the real context', () => {
    for (const path of ['node_modules/sharp/package.json', 'dist/main.js', '.cache/models/x.onnx', 'data/inference/a.jpg', '.env', '.git/HEAD', 'models/yolox_nano.onnx']) {
      expect(dockerignoreExcludes(ignore, path), path).toBe(true);
    }
  });
});
