/**
 * Configuration loading: defaults ← YAML file at APP_CONFIG_PATH ← APP_* variables.
 * Validation is the schema's (ajv over the TypeBox JSON Schema); this module
 * only layers the sources and turns the first ajv error into one line naming
 * the key, the value and what is allowed.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { TSchema } from '@sinclair/typebox';
import { parse as parseYaml } from 'yaml';
import { apiKeyFromEntry, parseApiKeyList } from './api-keys.js';
import { quoteShort } from './echo.js';
import { AppConfigSchema, CAMERA_DEFAULTS, CameraSchema, ENV_KEYS, defaultConfig, type AppConfig, type CameraConfig, type EngineConfig, type KeyAnnotations, type StreamsConfig } from './schema.js';

export { ENV_KEYS };

export class ConfigError extends Error {
  override name = 'ConfigError';
}

// strictNumbers: NaN and ±Infinity are not numbers a config may hold.
// verbose: errors carry the failing schema node, which says what is allowed.
const ajv = new Ajv({ strict: false, strictNumbers: true, verbose: true, allErrors: false });
const validateConfig = ajv.compile<AppConfig>(AppConfigSchema);
const validateCamera = ajv.compile<CameraConfig>(CameraSchema);
const validateEngine = ajv.compile<EngineConfig>(AppConfigSchema.properties.engine);

type Node = TSchema & KeyAnnotations;

/** Variables read besides ENV_KEYS (a second source for a key that has its own variable). */
export const EXTRA_ENV_KEYS: Readonly<Record<string, string>> = { APP_API_KEYS_FILE: 'server.auth.keys' };

/** Values in messages are quoted, escaped and cut short: they may come from an API client. */
function describe(value: unknown): string {
  return quoteShort(value);
}

/** A value as an error may show it: never a credential. */
function shown(node: Node, value: unknown): string {
  return node.secret ? `(hidden, ${String(value).length} characters)` : describe(value);
}

/** What a schema node accepts, in words. */
export function allowedText(node: Node): string {
  if (node.allowed) return node.allowed;
  if (Array.isArray(node.enum)) return `one of ${node.enum.join(', ')}`;
  switch (node.type) {
    case 'object':
      return 'a mapping';
    case 'array':
      return 'a list';
    case 'boolean':
      return 'true or false';
    case 'string':
      return node.minLength ? 'a non-empty string' : 'a string';
  }
  let text = node.type === 'integer' ? 'an integer' : 'a number';
  const { minimum: min, maximum: max } = node as { minimum?: number; maximum?: number };
  if (min !== undefined && max !== undefined) text += ` from ${min} to ${max}`;
  else if (min !== undefined) text += ` ≥ ${min}`;
  else if (max !== undefined) text += ` ≤ ${max}`;
  return text;
}

/** `/cameras/0/id` under `prefix` → `cameras[0].id`. */
function keyPath(prefix: string, instancePath: string): string {
  let path = prefix;
  for (const part of instancePath.split('/').slice(1)) {
    path += /^\d+$/.test(part) ? `[${part}]` : path ? `.${part}` : part;
  }
  return path;
}

/** One line for the first thing ajv rejected. */
function errorLine(error: ErrorObject, source: string, prefix: string): string {
  const path = keyPath(prefix, error.instancePath);
  const parent = error.parentSchema as Node & { properties?: Record<string, Node> };
  if (error.keyword === 'additionalProperties') {
    const key = (error.params as { additionalProperty: string }).additionalProperty;
    return `${source}: unknown key ${path ? `${path}.${key}` : key}; allowed keys here: ${Object.keys(parent.properties ?? {}).join(', ')}`;
  }
  if (error.keyword === 'required') {
    const key = (error.params as { missingProperty: string }).missingProperty;
    const node = parent.properties?.[key];
    return `${source}: ${path}.${key} is missing; allowed: ${node ? allowedText(node) : 'a value'}`;
  }
  return `${source}: ${path || '(top level)'} = ${shown(parent, error.data)} is invalid; allowed: ${allowedText(parent)}`;
}

function check<T>(validate: ValidateFunction<T>, value: unknown, source: string, prefix = ''): asserts value is T {
  if (!validate(value)) throw new ConfigError(errorLine(validate.errors?.[0] as ErrorObject, source, prefix));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deep-merges `patch` into `target`: mappings merge, everything else replaces. */
function merge(target: Record<string, unknown>, patch: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(patch)) {
    const current = target[key];
    if (isPlainObject(current) && isPlainObject(value) && Object.hasOwn(target, key)) merge(current, value);
    // defineProperty: a YAML key "__proto__" becomes an unknown key, not a prototype.
    else Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  }
}

/** Validates one camera entry (from YAML or POST /cameras) and fills its defaults. */
export function parseCamera(input: unknown, path: string, source: string): CameraConfig {
  const camera = isPlainObject(input) ? { ...CAMERA_DEFAULTS, ...input } : input;
  if (isPlainObject(camera)) {
    for (const key of ['id', 'url'] as const) if (typeof camera[key] === 'string') camera[key] = camera[key].trim();
  }
  check(validateCamera, camera, source, path);
  return camera;
}

/** Refuses or clamps (streams.fps_over_max) a camera asking for more than streams.max_fps. */
export function applyFpsLimit(camera: CameraConfig, streams: Pick<StreamsConfig, 'max_fps' | 'fps_over_max'>, path: string, source: string): CameraConfig {
  if (camera.fps <= streams.max_fps) return camera;
  if (streams.fps_over_max === 'clamp') return { ...camera, fps: streams.max_fps };
  throw new ConfigError(`${source}: ${path}.fps = ${camera.fps} is over the limit; allowed: 0 (the default rate) to ${streams.max_fps} (streams.max_fps)`);
}

/** Checks engine settings that did not come through loadConfig (library use, tests) by the same schema. */
export function checkEngineConfig(engine: unknown, source: string): asserts engine is EngineConfig {
  check(validateEngine, engine, source, 'engine');
}

/** Turns an environment string into the type the key's schema asks for. */
function coerceEnv(name: string, raw: string, node: Node): unknown {
  if (node.type === 'array') return raw.split(',').map((item) => item.trim()).filter((item) => item !== '');
  if (node.type === 'number' || node.type === 'integer') {
    const n = Number(raw.trim());
    return raw.trim() === '' || Number.isNaN(n) ? raw : n;
  }
  if (node.type === 'boolean') {
    const v = raw.trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(v)) return true;
    if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
    throw new ConfigError(`environment: ${name} = ${describe(raw)} is invalid; allowed: true or false`);
  }
  return raw;
}

function nodeAt(path: string): Node {
  let node = AppConfigSchema as Node & { properties?: Record<string, Node> };
  for (const part of path.split('.')) node = (node.properties as Record<string, Node>)[part] as typeof node;
  return node;
}

const envValidators = new Map<string, ValidateFunction>();

/** APP_CAMERAS: the `cameras:` list as YAML or JSON text (e.g. from one SSM parameter); replaces the file's list. */
function parseCameraList(name: string, raw: string): CameraConfig[] {
  let list: unknown;
  try {
    list = parseYaml(raw);
  } catch (err) {
    throw new ConfigError(`environment: ${name} is not valid YAML/JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  if (list === null || list === undefined) return [];
  // The value is not echoed: camera URLs often hold credentials.
  if (!Array.isArray(list)) throw new ConfigError(`environment: ${name} is invalid (value not shown: it may hold credentials); allowed: a YAML or JSON list of cameras`);
  return list.map((camera, i) => parseCamera(camera, `${name}[${i}]`, 'environment'));
}

function applyEnv(config: AppConfig, env: NodeJS.ProcessEnv): void {
  for (const [name, path] of Object.entries(ENV_KEYS) as [string, string][]) {
    const raw = env[name];
    if (raw === undefined || name === 'APP_API_KEYS') continue;
    if (path === 'cameras') {
      config.cameras = parseCameraList(name, raw);
      continue;
    }
    const node = nodeAt(path);
    const value = coerceEnv(name, raw, node);
    let validate = envValidators.get(path);
    if (!validate) envValidators.set(path, (validate = ajv.compile(node)));
    if (!validate(value)) throw new ConfigError(`environment: ${name} (${path}) = ${shown(node, value)} is invalid; allowed: ${allowedText((validate.errors?.[0]?.parentSchema as Node | undefined) ?? node)}`);
    const parts = path.split('.');
    let parent = config as unknown as Record<string, unknown>;
    for (const part of parts.slice(0, -1)) parent = parent[part] as Record<string, unknown>;
    parent[parts[parts.length - 1] as string] = value;
  }
}

/** YAML key entries `{role, key}` become `{role, sha256}` before validation; errors never show a key. */
function hashYamlKeys(config: Record<string, unknown>, source: string): void {
  const auth = (config.server as { auth?: { keys?: unknown } } | undefined)?.auth;
  if (!isPlainObject(auth) || !Array.isArray(auth.keys)) return;
  auth.keys = auth.keys.map((entry: unknown, i) => {
    try {
      return apiKeyFromEntry(entry);
    } catch (err) {
      throw new ConfigError(`${source}: server.auth.keys[${i}] is invalid: ${(err as Error).message}`);
    }
  });
}

/**
 * APP_API_KEYS and the file named by APP_API_KEYS_FILE (a Docker or ECS
 * secret) replace the file's keys; both given, their keys add up.
 */
function applyEnvApiKeys(config: AppConfig, env: NodeJS.ProcessEnv): void {
  const sources: [string, string][] = [];
  if (env.APP_API_KEYS !== undefined) sources.push(['APP_API_KEYS', env.APP_API_KEYS]);
  const file = env.APP_API_KEYS_FILE;
  if (file !== undefined && file !== '') {
    try {
      sources.push([`APP_API_KEYS_FILE (${file})`, readFileSync(file, 'utf8')]);
    } catch (err) {
      throw new ConfigError(`environment: APP_API_KEYS_FILE = ${describe(file)} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}); allowed: a readable file of role:key lines`);
    }
  }
  if (sources.length === 0) return;
  config.server.auth.keys = sources.flatMap(([name, text]) => {
    try {
      return parseApiKeyList(text);
    } catch (err) {
      throw new ConfigError(`environment: ${name} is invalid: ${(err as Error).message}; allowed: role:key entries (role read or admin) separated by commas or lines`);
    }
  });
}

/** Rules that span keys, which a per-key schema cannot say. */
function crossChecks(config: AppConfig): void {
  const seen = new Set<string>();
  for (const camera of config.cameras) {
    if (seen.has(camera.id)) throw new ConfigError(`config: cameras contains the id ${describe(camera.id)} twice; allowed: unique ids`);
    seen.add(camera.id);
  }
  if (config.streams.default_fps > config.streams.max_fps) {
    throw new ConfigError(`config: streams.default_fps = ${config.streams.default_fps} is invalid; allowed: ≤ streams.max_fps (${config.streams.max_fps})`);
  }
  config.cameras = config.cameras.map((camera, i) => applyFpsLimit(camera, config.streams, `cameras[${i}]`, 'config'));
  // In cluster mode the list seeds the whole cluster; cluster.capacity bounds what one instance runs.
  if (config.cameras.length > config.streams.max_cameras && !config.cluster.redis_url) {
    throw new ConfigError(`config: cameras lists ${config.cameras.length} cameras but streams.max_cameras = ${config.streams.max_cameras}; allowed: at most streams.max_cameras cameras (raise it to start them all)`);
  }
  const { initial_ms, max_ms } = config.streams.reconnect;
  if (max_ms < initial_ms) {
    throw new ConfigError(`config: streams.reconnect.max_ms = ${max_ms} is invalid; allowed: ≥ streams.reconnect.initial_ms (${initial_ms})`);
  }
  const { heartbeat_ms, lease_ttl_ms } = config.cluster;
  if (heartbeat_ms * 2 > lease_ttl_ms) {
    throw new ConfigError(`config: cluster.heartbeat_ms = ${heartbeat_ms} is invalid; allowed: ≤ half of cluster.lease_ttl_ms (${lease_ttl_ms}), so a lease is renewed at least twice before it lapses`);
  }
}

function readYaml(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`APP_CONFIG_PATH = ${JSON.stringify(path)} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}); allowed: a readable YAML file`);
  }
  try {
    return parseYaml(text);
  } catch (err) {
    const line = (err as { linePos?: { line: number }[] }).linePos?.[0]?.line;
    throw new ConfigError(`${path}: not valid YAML${line ? ` at line ${line}` : ''}: ${(err as Error).message.split('\n')[0]}`);
  }
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Overrides APP_CONFIG_PATH. */
  configPath?: string;
}

/** Resolves the effective configuration. Throws ConfigError with a one-line message. */
export function loadConfig(options: LoadOptions = {}): AppConfig {
  const env = options.env ?? process.env;
  const config: Record<string, unknown> = defaultConfig();

  const path = options.configPath ?? env.APP_CONFIG_PATH;
  if (path) {
    const parsed = readYaml(path);
    if (parsed !== null && parsed !== undefined) {
      if (!isPlainObject(parsed)) throw new ConfigError(`${path}: (top level) = ${describe(parsed)} is invalid; allowed: a mapping`);
      merge(config, parsed);
      hashYamlKeys(config, path);
      if (Array.isArray(config.cameras)) config.cameras = config.cameras.map((camera, i) => parseCamera(camera, `cameras[${i}]`, path));
    }
  }
  check(validateConfig, config, path ?? 'config');

  applyEnv(config, env);
  applyEnvApiKeys(config, env);
  if (config.rtsp_url && !config.cameras.some((c) => c.id === 'default')) {
    config.cameras.unshift(parseCamera({ id: 'default', url: config.rtsp_url, transport: config.rtsp_transport }, 'rtsp_url', 'config'));
  }
  crossChecks(config);
  return config;
}
