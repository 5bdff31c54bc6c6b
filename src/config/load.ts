/**
 * Configuration loading: defaults ← YAML file at APP_CONFIG_PATH ← APP_* variables.
 * Every rejected value raises a ConfigError whose message is one line naming
 * the key, the value and what is allowed.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { CAMERA_DEFAULTS, defaultConfig, type AppConfig, type CameraConfig } from './schema.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Leaf = string | number | boolean;
interface Rule {
  int?: boolean;
  min?: number;
  max?: number;
  oneOf?: readonly string[];
}

/** Constraints beyond "same type as the default". Paths are dotted. */
const RULES: Record<string, Rule> = {
  log_level: { oneOf: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] },
  'server.port': { int: true, min: 0, max: 65535 },
  'server.max_upload_bytes': { int: true, min: 1 },
  'server.max_image_pixels': { int: true, min: 1 },
  'model.top_k': { int: true, min: 1, max: 1000 },
  'model.person_score_threshold': { min: 0, max: 1 },
  'model.detection_score_threshold': { min: 0, max: 1 },
  'model.nms_iou_threshold': { min: 0, max: 1 },
  'engine.provider': { oneOf: ['auto', 'cpu', 'cuda'] },
  'engine.pool_size': { int: true, min: 0, max: 256 },
  'engine.intra_op_threads': { int: true, min: 0, max: 256 },
  'engine.max_batch': { int: true, min: 1, max: 256 },
  'engine.max_wait_ms': { min: 0, max: 10_000 },
  'engine.max_in_flight_batches': { int: true, min: 1, max: 64 },
  'engine.max_frame_age_ms': { min: 1 },
  'engine.inference_stall_ms': { min: 100 },
  'streams.ring_slots': { int: true, min: 3, max: 64 },
  'streams.max_cameras': { int: true, min: 1, max: 1024 },
  'streams.default_fps': { min: 0.01, max: 240 },
  'streams.reconnect.initial_ms': { min: 1 },
  'streams.reconnect.max_ms': { min: 1 },
  'streams.reconnect.multiplier': { min: 1 },
  'streams.reconnect.jitter': { min: 0, max: 1 },
  'streams.reconnect.reset_after_ms': { min: 0 },
  'streams.stall_timeout_ms': { min: 100 },
  'streams.frozen_after_ms': { min: 0 },
  'streams.ffmpeg_log_lines_per_minute': { int: true, min: 0 },
  'streams.sse_heartbeat_ms': { min: 100 },
  'streams.event_history': { int: true, min: 0, max: 100_000 },
  'streams.client_max_buffered_bytes': { int: true, min: 1024 },
  'capture.every_n': { int: true, min: 1 },
  'capture.max_side': { int: true, min: 0, max: 16384 },
  'capture.jpeg_quality': { int: true, min: 1, max: 100 },
  'capture.max_pending': { int: true, min: 1 },
  'capture.retention_max_bytes': { min: 0 },
  'capture.retention_max_age_hours': { min: 0 },
  'capture.s3.concurrency': { int: true, min: 1, max: 64 },
  'capture.s3.max_retries': { int: true, min: 0 },
  'telemetry.emf_interval_s': { min: 0 },
  'camera.fps': { min: 0, max: 240 },
  'camera.transport': { oneOf: ['tcp', 'udp'] },
  'camera.capture.every_n': { int: true, min: 1 },
};

/** The seed's variable names and the ones added since; each maps to one key. */
export const ENV_KEYS: Record<string, string> = {
  APP_HOST: 'server.host',
  APP_PORT: 'server.port',
  APP_LOG_LEVEL: 'log_level',
  APP_MODEL_NAME: 'model.name',
  APP_MODELS_DIR: 'model.models_dir',
  APP_MODEL_CACHE_DIR: 'model.cache_dir',
  APP_TOP_K: 'model.top_k',
  APP_PERSON_SCORE_THRESHOLD: 'model.person_score_threshold',
  APP_PROVIDER: 'engine.provider',
  APP_POOL_SIZE: 'engine.pool_size',
  APP_INTRA_OP_THREADS: 'engine.intra_op_threads',
  APP_MAX_BATCH: 'engine.max_batch',
  APP_MAX_WAIT_MS: 'engine.max_wait_ms',
  APP_MAX_FRAME_AGE_MS: 'engine.max_frame_age_ms',
  APP_MAX_UPLOAD_BYTES: 'server.max_upload_bytes',
  APP_RTSP_URL: 'rtsp_url',
  APP_DEMO_CAMERA: 'streams.demo_camera',
  APP_CAPTURE_INFERENCE: 'capture.inference',
  APP_CAPTURE_DIR: 'capture.dir',
  APP_CAPTURE_EVERY_N: 'capture.every_n',
  APP_CAPTURE_S3_BUCKET: 'capture.s3.bucket',
  APP_CAPTURE_S3_PREFIX: 'capture.s3.prefix',
  APP_CAPTURE_S3_ENDPOINT: 'capture.s3.endpoint',
  APP_CAPTURE_S3_REGION: 'capture.s3.region',
  APP_EMF_INTERVAL_S: 'telemetry.emf_interval_s',
};

function describe(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

function allowedText(rule: Rule | undefined, type: string): string {
  if (rule?.oneOf) return `one of ${rule.oneOf.join(', ')}`;
  let text = rule?.int ? 'an integer' : type === 'number' ? 'a number' : type === 'boolean' ? 'true or false' : 'a string';
  if (rule?.min !== undefined && rule.max !== undefined) text += ` from ${rule.min} to ${rule.max}`;
  else if (rule?.min !== undefined) text += ` ≥ ${rule.min}`;
  else if (rule?.max !== undefined) text += ` ≤ ${rule.max}`;
  return text;
}

/** Checks one leaf against the default's type and the rule for its path. */
function checkLeaf(path: string, ruleKey: string, value: unknown, sample: Leaf, source: string): Leaf {
  const rule = RULES[ruleKey];
  const type = typeof sample;
  const fail = (): never => {
    throw new ConfigError(`${source}: ${path} = ${describe(value)} is invalid; allowed: ${allowedText(rule, type)}`);
  };
  if (typeof value !== type) fail();
  if (type === 'number') {
    const n = value as number;
    if (!Number.isFinite(n)) fail();
    if (rule?.int && !Number.isInteger(n)) fail();
    if (rule?.min !== undefined && n < rule.min) fail();
    if (rule?.max !== undefined && n > rule.max) fail();
  }
  if (rule?.oneOf && !rule.oneOf.includes(value as string)) fail();
  return value as Leaf;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Merges `patch` into `target` in place, validating every key against the target's shape. */
function mergeSection(target: Record<string, unknown>, patch: unknown, prefix: string, source: string): void {
  if (!isPlainObject(patch)) {
    throw new ConfigError(`${source}: ${prefix || '(top level)'} = ${describe(patch)} is invalid; allowed: a mapping`);
  }
  for (const [key, value] of Object.entries(patch)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (!(key in target)) {
      throw new ConfigError(`${source}: unknown key ${path}; allowed keys here: ${Object.keys(target).join(', ')}`);
    }
    const current = target[key];
    if (path === 'cameras') {
      if (!Array.isArray(value)) throw new ConfigError(`${source}: cameras = ${describe(value)} is invalid; allowed: a list of cameras`);
      target[key] = value.map((camera, i) => parseCamera(camera, `cameras[${i}]`, source));
    } else if (path === 'model.aliases') {
      if (!isPlainObject(value) || !Object.values(value).every((v) => typeof v === 'string')) {
        throw new ConfigError(`${source}: model.aliases = ${describe(value)} is invalid; allowed: a mapping of alias to model name`);
      }
      target[key] = { ...(current as Record<string, string>), ...(value as Record<string, string>) };
    } else if (isPlainObject(current)) {
      mergeSection(current, value, path, source);
    } else {
      target[key] = checkLeaf(path, path, value, current as Leaf, source);
    }
  }
}

const CAMERA_ID = /^[A-Za-z0-9_.-]{1,64}$/;

/** Validates one camera entry (from YAML or POST /cameras) and fills its defaults. */
export function parseCamera(input: unknown, path: string, source: string): CameraConfig {
  if (!isPlainObject(input)) throw new ConfigError(`${source}: ${path} = ${describe(input)} is invalid; allowed: a mapping with id and url`);
  const camera: Record<string, unknown> = { ...CAMERA_DEFAULTS };
  for (const [key, value] of Object.entries(input)) {
    const keyPath = `${path}.${key}`;
    if (key === 'id' || key === 'url') {
      if (typeof value !== 'string' || value.trim() === '') {
        throw new ConfigError(`${source}: ${keyPath} = ${describe(value)} is invalid; allowed: a non-empty string`);
      }
      camera[key] = value.trim();
    } else if (key === 'capture') {
      const capture: Record<string, unknown> = { enabled: false, every_n: 1 };
      mergeSection(capture, value, keyPath, source);
      camera.capture = Object.fromEntries(Object.keys(capture).filter((k) => k in (value as object)).map((k) => [k, capture[k]]));
    } else if (key in CAMERA_DEFAULTS) {
      camera[key] = checkLeaf(keyPath, `camera.${key}`, value, CAMERA_DEFAULTS[key as keyof typeof CAMERA_DEFAULTS] as Leaf, source);
    } else {
      throw new ConfigError(`${source}: unknown key ${keyPath}; allowed keys here: id, url, ${Object.keys(CAMERA_DEFAULTS).join(', ')}, capture`);
    }
  }
  if (camera.id === undefined) throw new ConfigError(`${source}: ${path}.id is missing; allowed: a camera id like "front-door"`);
  if (camera.url === undefined) throw new ConfigError(`${source}: ${path}.url is missing; allowed: an RTSP/HTTP URL, a file path, a camera index, "auto" or "video=NAME"`);
  if (!CAMERA_ID.test(camera.id as string)) {
    throw new ConfigError(`${source}: ${path}.id = ${describe(camera.id)} is invalid; allowed: 1-64 characters of letters, digits, _ . -`);
  }
  return camera as unknown as CameraConfig;
}

/** Turns an environment string into the type of the key's default. */
function coerceEnv(name: string, raw: string, sample: Leaf): Leaf {
  if (typeof sample === 'number') {
    const n = Number(raw.trim());
    return raw.trim() === '' || Number.isNaN(n) ? (raw as unknown as number) : n;
  }
  if (typeof sample === 'boolean') {
    const v = raw.trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(v)) return true;
    if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
    throw new ConfigError(`environment: ${name} = ${describe(raw)} is invalid; allowed: true or false`);
  }
  return raw;
}

function getPath(root: Record<string, unknown>, path: string): { parent: Record<string, unknown>; key: string } {
  const parts = path.split('.');
  let parent = root;
  for (const part of parts.slice(0, -1)) parent = parent[part] as Record<string, unknown>;
  return { parent, key: parts[parts.length - 1] as string };
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Overrides APP_CONFIG_PATH. */
  configPath?: string;
}

/** Resolves the effective configuration. Throws ConfigError with a one-line message. */
export function loadConfig(options: LoadOptions = {}): AppConfig {
  const env = options.env ?? process.env;
  const config = defaultConfig();
  const root = config as unknown as Record<string, unknown>;

  const path = options.configPath ?? env.APP_CONFIG_PATH;
  if (path) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new ConfigError(`APP_CONFIG_PATH = ${describe(path)} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}); allowed: a readable YAML file`);
    }
    let parsed: unknown;
    try {
      parsed = parseYaml(text);
    } catch (err) {
      const line = (err as { linePos?: { line: number }[] }).linePos?.[0]?.line;
      throw new ConfigError(`${path}: not valid YAML${line ? ` at line ${line}` : ''}: ${(err as Error).message.split('\n')[0]}`);
    }
    if (parsed !== null && parsed !== undefined) mergeSection(root, parsed, '', path);
  }

  for (const [name, keyPath] of Object.entries(ENV_KEYS)) {
    const raw = env[name];
    if (raw === undefined) continue;
    const { parent, key } = getPath(root, keyPath);
    const sample = parent[key] as Leaf;
    parent[key] = checkLeaf(`${name} (${keyPath})`, keyPath, coerceEnv(name, raw, sample), sample, 'environment');
  }

  if (config.rtsp_url && !config.cameras.some((c) => c.id === 'default')) {
    config.cameras.unshift(parseCamera({ id: 'default', url: config.rtsp_url }, 'rtsp_url', 'config'));
  }
  const seen = new Set<string>();
  for (const camera of config.cameras) {
    if (seen.has(camera.id)) throw new ConfigError(`config: cameras contains the id ${describe(camera.id)} twice; allowed: unique ids`);
    seen.add(camera.id);
  }
  if (config.streams.reconnect.max_ms < config.streams.reconnect.initial_ms) {
    throw new ConfigError(`config: streams.reconnect.max_ms = ${config.streams.reconnect.max_ms} is invalid; allowed: ≥ streams.reconnect.initial_ms (${config.streams.reconnect.initial_ms})`);
  }
  return config;
}
