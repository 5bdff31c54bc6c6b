/**
 * Starts the real service in this process on 127.0.0.1 and a free port, with
 * the real models from ../shared (or the fixture cache) and real cameras.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultConfig, type AppConfig, type CameraConfig } from '../../src/config/schema.js';
import { startService, type RunningService } from '../../src/app/service.js';
import { AUTO_MODEL, findSpec, loadManifest } from '../../src/models/registry.js';
import { fixturePath } from './fixtures.js';

export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
// The shared copies, or generated into the fixture cache where ../shared is absent.
export const SLIDESHOW_720P = await fixturePath('media', 'coco_slideshow_720p.mp4');
export const SLIDESHOW_360P = await fixturePath('media', 'coco_slideshow_360p.mp4');

export type ConfigOverrides = {
  [K in keyof AppConfig]?: AppConfig[K] extends unknown[] ? AppConfig[K] : AppConfig[K] extends object ? Partial<AppConfig[K]> : AppConfig[K];
};

export function fileCamera(id: string, path: string, extra: Partial<CameraConfig> = {}): CameraConfig {
  return { id, url: path, fps: 5, transport: 'tcp', loop: true, realtime: true, ...extra };
}

export function testConfig(overrides: ConfigOverrides = {}): AppConfig {
  const base = defaultConfig();
  const config = { ...base } as Record<string, unknown>;
  for (const [key, value] of Object.entries(overrides)) {
    const current = (base as unknown as Record<string, unknown>)[key];
    config[key] = typeof current === 'object' && current !== null && !Array.isArray(current) ? { ...current, ...(value as object) } : value;
  }
  const result = config as unknown as AppConfig;
  result.server = { ...result.server, host: '127.0.0.1', port: 0, ...(overrides.server ?? {}) };
  result.telemetry = { ...result.telemetry, emf_interval_s: 0, ...(overrides.telemetry ?? {}) };
  // decoder_nice 10, not the default 19: the suite must pass on a machine kept busy by other nice-0 work
  // (CI loads the other core), and at 19 each decoder gets about 1.5 % of a core against such a process, so
  // clips play several times slower than real time. Benchmarks set the default back.
  result.streams = { ...result.streams, demo_camera: false, decoder_nice: 10, ...(overrides.streams ?? {}) };
  // Tests add the shared clips through the API: allow their directory, as an operator would.
  result.sources = { ...result.sources, file_dirs: [dirname(SLIDESHOW_360P)], ...(overrides.sources ?? {}) };
  result.log_level = overrides.log_level ?? 'silent';
  // Cameras added through the API are stored under data_dir: never in the checkout, never shared between tests.
  result.data_dir = overrides.data_dir ?? mkdtempSync(join(tmpdir(), 'service-data-'));
  return result;
}

export interface TestService {
  baseUrl: string;
  service: RunningService;
  stop(): Promise<void>;
}

/**
 * Makes sure the model's files are on disk (../shared, or fetched into the
 * fixture cache and verified) and points models_dir at them.
 */
export async function withModelFiles(config: AppConfig): Promise<AppConfig> {
  if (config.model.models_dir) return config;
  // Tests run on CPU, where model.name auto is the CPU classifier.
  const name = config.model.name === 'auto' ? AUTO_MODEL.cpu : config.model.name;
  const spec = findSpec(loadManifest(), name, config.model.aliases);
  const modelPath = await fixturePath('model', spec.file);
  await fixturePath('model', spec.labels_file);
  return { ...config, model: { ...config.model, models_dir: dirname(modelPath) } };
}

export async function startTestService(overrides: ConfigOverrides = {}): Promise<TestService> {
  const service = await startService(await withModelFiles(testConfig(overrides)), { projectRoot: PROJECT_ROOT });
  return { baseUrl: `http://127.0.0.1:${service.port}`, service, stop: () => service.stop() };
}

/** Reads an SSE response until `until` returns true or the time runs out. */
export async function collectSse<T>(url: string, timeoutMs: number, until: (events: T[]) => boolean, headers: Record<string, string> = {}): Promise<T[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const events: T[] = [];
  try {
    const res = await fetch(url, { headers, signal: controller.signal });
    if (!res.ok || !res.body) throw new Error(`SSE ${url} answered ${res.status}`);
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
        if (data) events.push(JSON.parse(data) as T);
      }
      if (until(events)) break;
    }
  } catch (err) {
    if ((err as Error).name !== 'AbortError') throw err;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return events;
}

/** Waits (up to `timeoutMs`) until every camera of the service streams; ffmpeg start-up is rarely what a test measures. */
export async function waitUntilStreaming(service: RunningService, timeoutMs = 30_000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (service.cameras.list().some((h) => h.status().state !== 'streaming')) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}
