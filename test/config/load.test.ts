import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { defaultConfig } from '../../src/config/schema.js';

function yamlFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
  const path = join(dir, 'config.yaml');
  writeFileSync(path, text);
  return path;
}

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('returns the defaults with no file and no variables', () => {
    expect(loadConfig({ env: {} })).toEqual(defaultConfig());
  });

  it('layers defaults ← YAML ← environment', () => {
    const path = yamlFile('server:\n  port: 9000\n  host: 127.0.0.1\nmodel:\n  top_k: 5\nengine:\n  max_batch: 4\n');
    const config = loadConfig({ env: { APP_CONFIG_PATH: path, APP_PORT: '9100', APP_TOP_K: '2' } });
    expect(config.server.port).toBe(9100);
    expect(config.server.host).toBe('127.0.0.1');
    expect(config.model.top_k).toBe(2);
    expect(config.engine.max_batch).toBe(4);
    expect(config.engine.max_wait_ms).toBe(defaultConfig().engine.max_wait_ms);
  });

  it('reads a camera list from APP_CAMERAS (YAML or JSON), replacing the file\'s, without echoing its URLs in errors', () => {
    const path = yamlFile('cameras:\n  - { id: file, url: rtsp://x }\n');
    const yaml = loadConfig({ env: { APP_CONFIG_PATH: path, APP_CAMERAS: '- { id: door, url: "rtsp://u:p@10.0.0.12/s", transport: udp }\n- { id: yard, url: /media/yard.mp4, fps: 2 }' } });
    expect(yaml.cameras.map((c) => [c.id, c.transport, c.fps])).toEqual([['door', 'udp', 0], ['yard', 'tcp', 2]]);
    const json = loadConfig({ env: { APP_CAMERAS: JSON.stringify([{ id: 'door', url: 'rtsp://10.0.0.12/s' }]) } });
    expect(json.cameras.map((c) => c.id)).toEqual(['door']);
    const bad = errorOf(() => loadConfig({ env: { APP_CAMERAS: '{ id: door, url: "rtsp://u:secret@x" }' } }));
    expect(bad.message).toContain('APP_CAMERAS');
    expect(bad.message).not.toContain('secret');
    expect(errorOf(() => loadConfig({ env: { APP_CAMERAS: '- { id: door }' } })).message).toContain('APP_CAMERAS[0].url is missing');
  });

  it('reads the single camera\'s transport, the shutdown deadline, the data directory and camera persistence from the environment', () => {
    const config = loadConfig({ env: { APP_RTSP_URL: 'rtsp://10.0.0.5/s', APP_RTSP_TRANSPORT: 'udp', APP_SHUTDOWN_DEADLINE_MS: '5000', APP_DATA_DIR: '/var/lib/sms', APP_PERSIST_CAMERAS: 'false' } });
    expect(config.cameras[0]).toMatchObject({ id: 'default', url: 'rtsp://10.0.0.5/s', transport: 'udp' });
    expect(config.server.shutdown_deadline_ms).toBe(5000);
    expect(config.data_dir).toBe('/var/lib/sms');
    expect(config.streams.persist).toBe(false);
    expect(errorOf(() => loadConfig({ env: { APP_RTSP_TRANSPORT: 'quic' } })).message).toBe('environment: APP_RTSP_TRANSPORT (rtsp_transport) = "quic" is invalid; allowed: one of tcp, udp');
  });

  it('keeps the seed variable names working', () => {
    const config = loadConfig({
      env: {
        APP_RTSP_URL: 'rtsp://10.0.0.5/stream',
        APP_MODEL_NAME: 'person_detector',
        APP_PERSON_SCORE_THRESHOLD: '0.7',
        APP_CAPTURE_INFERENCE: 'true',
        APP_CAPTURE_DIR: '/tmp/cap',
        APP_CAPTURE_EVERY_N: '5',
        APP_CAPTURE_S3_BUCKET: 'bucket',
        APP_CAPTURE_S3_PREFIX: 'pfx',
        APP_LOG_LEVEL: 'debug',
      },
    });
    expect(config.cameras).toEqual([{ id: 'default', url: 'rtsp://10.0.0.5/stream', fps: 0, transport: 'tcp', loop: true, realtime: true }]);
    expect(config.model.name).toBe('person_detector');
    expect(config.model.person_score_threshold).toBe(0.7);
    expect(config.capture).toMatchObject({ inference: true, dir: '/tmp/cap', every_n: 5, s3: { bucket: 'bucket', prefix: 'pfx' } });
    expect(config.log_level).toBe('debug');
  });

  it('parses cameras with defaults and per-camera capture overrides', () => {
    const path = yamlFile('cameras:\n  - id: door\n    url: rtsp://127.0.0.1:8554/live\n    transport: udp\n    fps: 10\n    capture: { every_n: 3 }\n  - id: file\n    url: /videos/a.mp4\n    loop: false\n');
    const config = loadConfig({ env: { APP_CONFIG_PATH: path } });
    expect(config.cameras[0]).toEqual({ id: 'door', url: 'rtsp://127.0.0.1:8554/live', fps: 10, transport: 'udp', loop: true, realtime: true, capture: { every_n: 3 } });
    expect(config.cameras[1]).toMatchObject({ id: 'file', loop: false });
  });

  it.each([
    ['server:\n  port: 70000\n', /server\.port = 70000 is invalid; allowed: an integer from 0 to 65535/],
    ['engine:\n  provider: tpu\n', /engine\.provider = "tpu" is invalid; allowed: one of auto, cpu, cuda/],
    ['model:\n  top_k: many\n', /model\.top_k = "many" is invalid; allowed: an integer from 1 to 1000/],
    ['servr:\n  port: 1\n', /unknown key servr; allowed keys here: log_level, server/],
    ['cameras:\n  - url: rtsp://x\n', /cameras\[0\]\.id is missing/],
    ['cameras:\n  - { id: "a b", url: x }\n', /cameras\[0\]\.id = "a b" is invalid/],
    ['cameras:\n  - { id: a, url: x }\n  - { id: a, url: y }\n', /contains the id "a" twice/],
    ['streams:\n  ring_slots: 2\n', /streams\.ring_slots = 2 is invalid; allowed: an integer from 3 to 64/],
    ['server: [1, 2]\n', /server = \[1,2\] is invalid; allowed: a mapping/],
  ])('rejects %j with one clear line', (yaml, pattern) => {
    const error = errorOf(() => loadConfig({ env: { APP_CONFIG_PATH: yamlFile(yaml) } }));
    expect(error.message).toMatch(pattern);
    expect(error.message).not.toContain('\n');
  });

  it('names the variable for a bad environment value', () => {
    expect(errorOf(() => loadConfig({ env: { APP_PORT: 'eighty' } })).message).toMatch(/APP_PORT \(server\.port\) = "eighty" is invalid; allowed: an integer/);
    expect(errorOf(() => loadConfig({ env: { APP_CAPTURE_INFERENCE: 'maybe' } })).message).toMatch(/APP_CAPTURE_INFERENCE = "maybe" is invalid; allowed: true or false/);
  });

  it('reports unreadable and malformed files', () => {
    expect(errorOf(() => loadConfig({ env: { APP_CONFIG_PATH: '/nonexistent/config.yaml' } })).message).toMatch(/cannot be read \(ENOENT\)/);
    expect(errorOf(() => loadConfig({ env: { APP_CONFIG_PATH: yamlFile('server: {port: 1\n') } })).message).toMatch(/not valid YAML/);
  });

  it('turns cluster mode on with APP_REDIS_URL and rejects unsafe cluster settings without echoing the secret URL', () => {
    const config = loadConfig({ env: { APP_REDIS_URL: 'rediss://default:s3cret@cache.example:6379', APP_INSTANCE_ID: 'task-1', APP_CLUSTER_CAPACITY: '4' } });
    expect(config.cluster).toMatchObject({ redis_url: 'rediss://default:s3cret@cache.example:6379', instance_id: 'task-1', capacity: 4 });
    expect(defaultConfig().cluster.redis_url).toBe('');
    const bad = errorOf(() => loadConfig({ env: { APP_REDIS_URL: 'http://user:s3cret@cache.example' } }));
    expect(bad.message).toMatch(/cluster\.redis_url\) = \(hidden, \d+ characters\) is invalid/);
    expect(bad.message).not.toContain('s3cret');
    // The YAML list seeds the whole cluster: more cameras than one instance runs is fine there.
    const seed = yamlFile(`streams: { max_cameras: 2 }\ncameras:\n${[1, 2, 3].map((i) => `  - { id: c${i}, url: rtsp://10.0.0.${i}/live }`).join('\n')}\n`);
    expect(loadConfig({ env: { APP_CONFIG_PATH: seed, APP_REDIS_URL: 'redis://127.0.0.1:6379' } }).cameras).toHaveLength(3);
    expect(errorOf(() => loadConfig({ env: { APP_CONFIG_PATH: seed } })).message).toMatch(/streams\.max_cameras = 2/);
    const tight = errorOf(() => loadConfig({ env: { APP_CONFIG_PATH: yamlFile('cluster: { lease_ttl_ms: 1000, heartbeat_ms: 800 }') } }));
    expect(tight.message).toMatch(/cluster\.heartbeat_ms = 800 is invalid/);
  });

  it('accepts an empty file', () => {
    expect(loadConfig({ env: { APP_CONFIG_PATH: yamlFile('') } })).toEqual(defaultConfig());
  });
});

describe('config.example.yaml', () => {
  it('documents every option with its default value', async () => {
    const { parse } = await import('yaml');
    const { readFileSync } = await import('node:fs');
    const example = parse(readFileSync(new URL('../../config.example.yaml', import.meta.url), 'utf8')) as Record<string, unknown>;
    const keys = (o: unknown, prefix = ''): string[] =>
      typeof o === 'object' && o !== null && !Array.isArray(o)
        ? Object.entries(o).flatMap(([k, v]) => (k === 'aliases' ? [prefix + k] : keys(v, `${prefix}${k}.`)))
        : [prefix.slice(0, -1)];
    expect(keys(example).sort()).toEqual(keys(defaultConfig()).sort());
    expect(loadConfig({ env: { APP_CONFIG_PATH: new URL('../../config.example.yaml', import.meta.url).pathname } })).toEqual(defaultConfig());
  });
});
