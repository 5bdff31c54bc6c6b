/**
 * The one configuration schema. Everything else is derived from it: the TS
 * types (`Static`), validation (ajv, in load.ts), defaults, the APP_* variable
 * names, `config.example.yaml` and the README table (docs.ts).
 *
 * HOW TO ADD A KEY
 * 1. Add it to its section below: `Type.Integer/Number/String/Boolean` or
 *    `oneOf([...])`, with `default`, limits (`minimum`, `maximum`) and a short
 *    `description` (it becomes the YAML comment and the README text). Wrap it
 *    in `env('APP_NAME', …)` if an environment variable may set it; the name
 *    then joins the `EnvName` type and `ENV_KEYS`.
 *    A string with a `pattern` also gets `allowed: 'human text'` for the error.
 *    A new section is `section({ … })`, added to `AppConfigSchema`.
 * 2. Run `npm run docs:config` (rewrites config.example.yaml and the README
 *    table); test/config/drift.test.ts fails until you do.
 * 3. A rule across keys (a ≤ b) goes in `crossChecks` in load.ts.
 * Keys are snake_case so the YAML file, the README and the code share one vocabulary.
 */
import { Type, type Static, type TObject, type TProperties, type TSchema } from '@sinclair/typebox';

/** Extra annotations we read from schema nodes (JSON Schema allows unknown keywords). */
export interface KeyAnnotations {
  description?: string;
  /** Environment variable that sets this key. */
  env?: string;
  /** Human text for "allowed:" where the JSON Schema keywords do not say it well. */
  allowed?: string;
  /** Commented YAML lines shown under the key in config.example.yaml. */
  example_yaml?: string;
  /** Never echo the value in an error (it is a credential). */
  secret?: boolean;
}

/** A mapping that rejects keys it does not declare. */
function section<P extends TProperties>(properties: P, options: KeyAnnotations = {}): TObject<P> {
  return Type.Object(properties, { additionalProperties: false, ...options });
}

/** A string restricted to `values`, typed as their union. */
function oneOf<const V extends readonly string[]>(values: V, options: KeyAnnotations & { default: V[number] }) {
  return Type.Unsafe<V[number]>({ type: 'string', enum: [...values], ...options });
}

/** Tags a key with its environment variable; the name is kept in the type (see `EnvName`). */
function env<const N extends string, T extends TSchema>(name: N, schema: T): T & { env: N } {
  return Object.assign(schema, { env: name });
}

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export const PROVIDERS = ['auto', 'cpu', 'cuda'] as const;
export const RTSP_TRANSPORTS = ['tcp', 'udp'] as const;
export const HWACCEL_MODES = ['auto', 'cpu', 'cuda'] as const;
export const API_ROLES = ['read', 'admin'] as const;
export const FPS_OVER_MAX = ['refuse', 'clamp'] as const;
export const SOURCE_KINDS = ['rtsp', 'rtsps', 'http', 'https', 'file', 'device'] as const;

/** An API key as the config holds it: only its SHA-256 (a `key:` entry in YAML or APP_API_KEYS is hashed when loaded). */
const ApiKeySchema = section(
  {
    role: Type.Unsafe<(typeof API_ROLES)[number]>({ type: 'string', enum: [...API_ROLES], description: 'read: streams, status, previews, /predict, /metrics; admin: also camera changes' }),
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$', allowed: '64 lower-case hex digits (the SHA-256 of the key)', description: 'SHA-256 of the key, hex' }),
  },
  { allowed: 'a mapping with role and key (or sha256)' },
);

const API_KEYS_EXAMPLE = `keys:
  - { role: admin, sha256: <hex> }   # printf %s "$KEY" | sha256sum
  - { role: read, key: <key> }       # a key given as such is hashed when loaded`;

const AuthSchema = section({
  keys: env(
    'APP_API_KEYS',
    Type.Array(ApiKeySchema, {
      default: [],
      allowed: 'role:key entries (role read or admin, keys of at least 16 characters) separated by commas or lines',
      description: 'API keys as role:key, comma-separated; APP_API_KEYS_FILE names a file of them (one a line, for Docker/ECS secrets); in YAML {role, key} or {role, sha256}. None = no auth, loopback only',
      example_yaml: API_KEYS_EXAMPLE,
    }),
  ),
  disabled: env('APP_AUTH_DISABLED', Type.Boolean({ default: false, description: 'serve without keys on a non-loopback host (warned at every start)' })),
  token_secret: env(
    'APP_AUTH_TOKEN_SECRET',
    Type.String({ default: '', pattern: '^(|[\\s\\S]{32,})$', allowed: '"" (random per process) or at least 32 characters', secret: true, description: 'HMAC secret for stream tokens; "" = random per process (share one behind a load balancer)' }),
  ),
  token_ttl_s: Type.Integer({ default: 300, minimum: 10, maximum: 86_400, description: 'lifetime of a stream token from POST /auth/token' }),
  max_failures_per_minute: Type.Integer({ default: 10, minimum: 1, maximum: 100_000, description: 'failed authentications per client IP per minute before 429' }),
});
export const STREAM_STRATEGIES = ['adaptive', 'drop_latest'] as const;
export const DECODE_MODES = ['auto', 'all', 'keyframes'] as const;

const ServerSchema = section({
  host: env('APP_HOST', Type.String({ default: '', description: 'listen address; "" = 0.0.0.0 with API keys (or auth disabled), else 127.0.0.1' })),
  port: env('APP_PORT', Type.Integer({ default: 8000, minimum: 0, maximum: 65535, description: 'listen port (0 = any free port)' })),
  max_upload_bytes: env('APP_MAX_UPLOAD_BYTES', Type.Integer({ default: 10 * 1024 * 1024, minimum: 1, description: 'POST /predict bodies above this get 413' })),
  max_image_pixels: Type.Integer({ default: 40_000_000, minimum: 1, description: 'images with more pixels (width × height) get 422, checked before decoding' }),
  cors_origins: env(
    'APP_CORS_ORIGINS',
    Type.Array(Type.String({ pattern: '^(null|https?://[^/\\s*?#]+)$', allowed: 'origins like https://ops.example.com or http://127.0.0.1:3000 ("null" for file:// pages), never *' }), {
      default: [],
      allowed: 'a list of origins like https://ops.example.com ("null" for file:// pages), never *',
      description: 'other browser origins allowed to call the API and open /ws, comma-separated; same origin always is',
    }),
  ),
  trust_proxy: env('APP_TRUST_PROXY', Type.Boolean({ default: false, description: 'client IP from the last X-Forwarded-For entry (behind a load balancer)' })),
  auth: AuthSchema,
  request_timeout_s: Type.Number({ default: 30, minimum: 1, maximum: 3600, description: 'a request body must arrive within this; slower (slow-loris) uploads get 408 and are cut' }),
  refusal_drain_bytes: Type.Integer({
    default: 32 * 1024 * 1024,
    minimum: 0,
    description: 'after an early 413/401/403/400 on an upload, the rest of the body is read and discarded up to this many bytes, so clients that send before reading (Python http.client, fetch) see the answer',
  }),
  refusal_drain_s: Type.Number({ default: 10, minimum: 0, maximum: 300, description: 'and for at most this long' }),
  shutdown_deadline_ms: env('APP_SHUTDOWN_DEADLINE_MS', Type.Integer({ default: 20_000, minimum: 1, description: 'on SIGTERM/SIGINT (or the parent process dying), exit 1 if the clean stop takes longer' })),
});

const ModelSchema = section({
  name: env(
    'APP_MODEL_NAME',
    Type.String({ default: 'auto', description: 'a name from models/manifest.yaml, an alias below, or auto (mobilenet_v2_int8 on CPU, mobilenet_v2 float on CUDA)' }),
  ),
  models_dir: env('APP_MODELS_DIR', Type.String({ default: '', description: 'searched first for model files' })),
  cache_dir: env('APP_MODEL_CACHE_DIR', Type.String({ default: '.cache/models', description: 'where `npm run models:fetch` stores files; searched second' })),
  top_k: env('APP_TOP_K', Type.Integer({ default: 3, minimum: 1, maximum: 1000, description: 'classifier predictions returned' })),
  person_score_threshold: env('APP_PERSON_SCORE_THRESHOLD', Type.Number({ default: 0.6, minimum: 0, maximum: 1, description: 'has_person = best person score ≥ this' })),
  detection_score_threshold: Type.Number({ default: 0.3, minimum: 0, maximum: 1, description: 'boxes below this score are not reported' }),
  nms_iou_threshold: Type.Number({ default: 0.45, minimum: 0, maximum: 1, description: 'boxes overlapping more than this are merged' }),
  aliases: Type.Record(Type.String(), Type.String(), {
    default: { person_detector: 'yolox_nano', classifier: 'mobilenet_v2_int8' },
    description: 'alias → manifest name',
    allowed: 'a mapping of alias to model name',
  }),
});

const EngineSchema = section({
  provider: env('APP_PROVIDER', oneOf(PROVIDERS, { default: 'auto', description: 'auto (CUDA if it loads, else CPU) | cuda (fail if unavailable) | cpu' })),
  pool_size: env('APP_POOL_SIZE', Type.Integer({ default: 0, minimum: 0, maximum: 256, description: 'inference worker threads (sessions); 0 = from the core count; on CUDA per GPU' })),
  device_ids: env(
    'APP_DEVICE_IDS',
    Type.String({
      default: '',
      pattern: '^(|\\d{1,3}(\\s*,\\s*\\d{1,3})*)$',
      allowed: 'GPU numbers separated by commas, like "0,1"',
      description: 'CUDA GPUs, comma-separated ("0,1"); empty = GPU 0; pool_size sessions on each, batches go to whichever is free',
    }),
  ),
  intra_op_threads: env('APP_INTRA_OP_THREADS', Type.Integer({ default: 0, minimum: 0, maximum: 256, description: 'onnxruntime threads per worker; 0 = from the core count' })),
  max_batch: env('APP_MAX_BATCH', Type.Integer({ default: -1, minimum: -1, maximum: 256, description: 'largest batch formed across cameras; -1 = provider default (CPU 8, CUDA 32)' })),
  max_wait_ms: env('APP_MAX_WAIT_MS', Type.Number({ default: -1, minimum: -1, maximum: 10_000, description: 'longest a ready frame waits for a batch to fill (max queue delay); -1 = provider default (CPU 0, CUDA 10)' })),
  max_in_flight_batches: Type.Integer({ default: 0, minimum: 0, maximum: 64, description: 'batches submitted and not yet answered (frames beyond wait in the ring); 0 = one per worker, at least 2' }),
  max_frame_age_ms: env('APP_MAX_FRAME_AGE_MS', Type.Number({ default: 1000, minimum: 0, description: 'older frames are dropped as `stale`, never inferred (0 = no limit)' })),
  inference_stall_ms: Type.Number({ default: 10_000, minimum: 100, description: 'a batch unanswered this long is reported as a stalled inference stage' }),
});

const ReconnectSchema = section({
  initial_ms: Type.Number({ default: 500, minimum: 1, description: 'first delay before reconnecting' }),
  max_ms: Type.Number({ default: 30_000, minimum: 1, description: 'longest delay (≥ initial_ms)' }),
  multiplier: Type.Number({ default: 2, minimum: 1, description: 'delay growth per failed attempt' }),
  jitter: Type.Number({ default: 0.2, minimum: 0, maximum: 1, description: '± fraction of each delay, so cameras do not reconnect in lockstep' }),
  reset_after_ms: Type.Number({ default: 60_000, minimum: 0, description: 'a connection streaming this long resets the backoff' }),
});

const RateControlSchema = section({
  min_change_interval_s: Type.Number({ default: 10, minimum: 0, description: 'at most one rate change (ffmpeg restart) per this many seconds' }),
  sustain_s: Type.Number({ default: 3, minimum: 0, description: 'overload / spare capacity must last this long before rates move' }),
  overload_drop_share: Type.Number({ default: 0.05, minimum: 0, maximum: 1, description: 'dropped / offered frames above this = overloaded' }),
  target_utilization: Type.Number({ default: 0.9, minimum: 0.05, maximum: 1, description: 'share of the measured inference rate handed out to the cameras' }),
  min_fps: Type.Number({ default: 0.2, minimum: 0.01, maximum: 240, description: 'no camera is sampled slower' }),
  raise_factor: Type.Number({ default: 1.25, minimum: 1, maximum: 10, description: 'each raise grows the total sampling rate by at most this' }),
  spare_utilization: Type.Number({
    default: 0.75,
    minimum: 0.05,
    maximum: 1,
    description: 'rates go back up only while the inference workers are busy less than this share of the time',
  }),
});

const StreamsSchema = section({
  ring_slots: Type.Integer({ default: 4, minimum: 3, maximum: 64, description: 'frame slots per camera (≥ 3: one written, one read, one ready)' }),
  max_cameras: env('APP_MAX_CAMERAS', Type.Integer({ default: 16, minimum: 1, maximum: 1024, description: 'cameras running or retrying at once; more in `cameras` fails at start (the frame arena grows up to this many rings as cameras are added)' })),
  default_fps: Type.Number({ default: 5, minimum: 0.01, maximum: 240, description: 'frames per second sampled per camera when a camera sets none (≤ max_fps)' }),
  max_fps: env('APP_MAX_FPS', Type.Number({ default: 30, minimum: 0.01, maximum: 240, description: 'highest fps a camera may ask for' })),
  fps_over_max: oneOf(FPS_OVER_MAX, { default: 'refuse', description: 'a camera over max_fps: refuse (400 / config error) | clamp (run at max_fps)' }),
  api_camera_max_failures: Type.Integer({
    default: 20,
    minimum: 0,
    description: 'API-added cameras give up after this many failures in a row, free their slot and stay listed as `error` until deleted (0 = never); configured cameras always retry',
  }),
  // adaptive meets every bench:pipeline target since a cut must pay for itself (README "Cameras per core").
  strategy: oneOf(STREAM_STRATEGIES, {
    default: 'adaptive',
    description: 'adaptive: sampling rates follow what the engine infers (fair share by camera weight); drop_latest: every camera at its own rate, the engine drops what it cannot take',
  }),
  rate_control: RateControlSchema,
  decoder_nice: Type.Integer({ default: 19, minimum: 0, maximum: 19, description: 'every ffmpeg runs this much nicer than the service: decoders yield the CPU to inference' }),
  decoder_threads: Type.Integer({ default: 0, minimum: 0, maximum: 64, description: 'ffmpeg decoder threads per camera; 0 = cores / cameras (1 when many cameras share few cores)' }),
  reconnect: ReconnectSchema,
  stall_timeout_ms: Type.Number({ default: 10_000, minimum: 100, description: 'no frame this long → ffmpeg is killed and restarted (up to 3× as long while it keeps using or waiting for CPU: starved, not stalled)' }),
  frozen_after_ms: Type.Number({ default: 10_000, minimum: 0, description: 'identical pictures this long → camera reported `frozen` (0 = off)' }),
  persist: env('APP_PERSIST_CAMERAS', Type.Boolean({ default: true, description: 'cameras added/removed through the API are kept in <data_dir>/cameras.json and restored at start' })),
  demo_camera: env('APP_DEMO_CAMERA', Type.Boolean({ default: true, description: 'with no camera configured, run the ffmpeg testsrc2 pattern as camera `demo`' })),
  hwaccel: env(
    'APP_HWACCEL',
    oneOf(HWACCEL_MODES, {
      default: 'auto',
      description: "video decoding: auto (NVDEC when ffmpeg can use CUDA here, else CPU, reason on /health/stream) | cpu | cuda; a camera's own hwaccel wins",
    }),
  ),
  ffmpeg_log_lines_per_minute: Type.Integer({ default: 20, minimum: 0, description: 'ffmpeg stderr lines logged per camera per minute' }),
  sse_heartbeat_ms: Type.Number({ default: 15_000, minimum: 100, description: 'SSE comment line sent when no event went out for this long' }),
  event_history: Type.Integer({ default: 256, minimum: 0, maximum: 100_000, description: 'events kept for SSE Last-Event-ID resume' }),
  client_max_buffered_bytes: Type.Integer({ default: 1024 * 1024, minimum: 1024, description: 'a slower SSE/WebSocket client loses events past this' }),
  client_max_lag_s: env(
    'APP_CLIENT_MAX_LAG_S',
    Type.Number({ default: 10, minimum: 0.1, maximum: 3600, description: 'a stream client this far behind (WebSocket: unanswered ping; SSE: bytes its socket would not take) is disconnected' }),
  ),
});

/**
 * Which camera sources POST /cameras may add. Cameras in the config file are
 * the operator's and trusted unless check_config_cameras is set; the demo
 * camera's test source is built by the service, never parsed from a URL.
 */
const SourcesSchema = section({
  allowed_schemes: env(
    'APP_SOURCE_SCHEMES',
    Type.Array(oneOf(SOURCE_KINDS, { default: 'rtsp' }), {
      default: [...SOURCE_KINDS],
      allowed: `a list of ${SOURCE_KINDS.join(', ')}`,
      description: 'kinds of source the API may add; lavfi graphs and ffmpeg protocols (concat:, subfile:, pipe:, data:, tcp:, udp:, …) never',
    }),
  ),
  file_dirs: env('APP_SOURCE_FILE_DIRS', Type.Array(Type.String({ minLength: 1 }), { default: [], description: 'local video files may be added only from below these directories (none by default)' })),
  allowed_hosts: env(
    'APP_SOURCE_HOSTS',
    Type.Array(Type.String({ minLength: 1 }), {
      default: [],
      description: 'if set, only these camera hosts (exact, or *.example.com); link-local/metadata addresses and this service itself are refused regardless',
    }),
  ),
  check_config_cameras: Type.Boolean({ default: false, description: 'apply the same policy to cameras from the config file and APP_RTSP_URL' }),
});

const CameraCaptureSchema = section({
  enabled: Type.Optional(Type.Boolean({ description: 'capture this camera even when capture.inference is off' })),
  every_n: Type.Optional(Type.Integer({ minimum: 1, description: 'capture every Nth inferred frame of this camera' })),
});

export const CameraSchema = section(
  {
    id: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$', allowed: '1-64 characters of letters, digits, _ . -', description: 'a camera id like "front-door"' }),
    url: Type.String({ minLength: 1, allowed: 'an RTSP/HTTP URL, a file path, a camera index, "auto" or "video=NAME"', description: 'where frames come from' }),
    fps: Type.Number({ default: 0, minimum: 0, maximum: 240, description: 'frames per second sampled by ffmpeg; 0 = streams.default_fps' }),
    transport: oneOf(RTSP_TRANSPORTS, { default: 'tcp', description: 'RTSP transport' }),
    loop: Type.Boolean({ default: true, description: 'for files: restart at EOF (true) or end the camera cleanly (false)' }),
    realtime: Type.Boolean({ default: true, description: 'play files at their native rate (true) or as fast as decoded (false)' }),
    // Optional without a default, so a parsed camera holds only what was given; readers use CAMERA_OPTIONAL_DEFAULTS.
    weight: Type.Optional(Type.Number({ minimum: 0.01, maximum: 1000, description: 'strategy adaptive: share of the engine under overload relative to other cameras (default 1)' })),
    decode: Type.Optional(Type.Unsafe<(typeof DECODE_MODES)[number]>({ type: 'string', enum: [...DECODE_MODES], description: 'auto (default): keyframes only when they are dense enough for the sampling rate; all; keyframes (falls back to all when too sparse)' })),
    hwaccel: Type.Optional(Type.Unsafe<HwaccelMode>({ type: 'string', enum: [...HWACCEL_MODES], description: 'video decoding for this camera; absent = streams.hwaccel' })),
    capture: Type.Optional(CameraCaptureSchema),
  },
  { allowed: 'a mapping with id and url' },
);

const S3Schema = section({
  bucket: env('APP_CAPTURE_S3_BUCKET', Type.String({ default: '', description: 'upload captures to this bucket; empty = no upload' })),
  prefix: env('APP_CAPTURE_S3_PREFIX', Type.String({ default: 'inference', description: 'key prefix' })),
  region: env('APP_CAPTURE_S3_REGION', Type.String({ default: '', description: 'region; empty = AWS default chain' })),
  endpoint: env('APP_CAPTURE_S3_ENDPOINT', Type.String({ default: '', description: 'for S3-compatible stores' })),
  force_path_style: Type.Boolean({ default: false, description: 'path-style URLs (most S3-compatible stores)' }),
  access_key_id: Type.String({ default: '', description: 'empty = AWS default credential chain (ECS task role)' }),
  secret_access_key: Type.String({ default: '', description: 'with access_key_id' }),
  concurrency: Type.Integer({ default: 4, minimum: 1, maximum: 64, description: 'uploads at once' }),
  max_retries: Type.Integer({ default: 0, minimum: 0, description: '0 = retry until it succeeds (nothing is lost)' }),
  delete_after_upload: Type.Boolean({ default: false, description: 'remove the local copy once uploaded' }),
});

const CaptureSchema = section({
  inference: env('APP_CAPTURE_INFERENCE', Type.Boolean({ default: false, description: 'save every Nth inferred frame with its predictions' })),
  dir: env('APP_CAPTURE_DIR', Type.String({ default: 'data/inference', description: 'capture directory' })),
  every_n: env('APP_CAPTURE_EVERY_N', Type.Integer({ default: 10, minimum: 1, description: 'capture every Nth inferred frame per camera' })),
  max_side: Type.Integer({ default: 1280, minimum: 0, maximum: 16384, description: 'longest side of saved pictures (0 = the size the camera sends)' }),
  jpeg_quality: Type.Integer({ default: 85, minimum: 1, maximum: 100, description: 'JPEG quality of saved pictures' }),
  max_pending: Type.Integer({ default: 8, minimum: 1, description: 'encodes/writes at once; more are skipped and counted' }),
  retention_max_bytes: Type.Number({ default: 0, minimum: 0, description: 'prune oldest local captures above this size (0 = no limit)' }),
  retention_max_age_hours: Type.Number({ default: 0, minimum: 0, description: 'prune local captures older than this (0 = no limit)' }),
  s3: S3Schema,
});

const TelemetrySchema = section({
  emf_interval_s: env('APP_EMF_INTERVAL_S', Type.Number({ default: 60, minimum: 0, description: 'CloudWatch EMF metrics line every N s on stdout (0 = off)' })),
  emf_namespace: Type.String({ default: 'StreamMlService', description: 'CloudWatch namespace of the EMF metrics' }),
});

const ClusterSchema = section(
  {
    redis_url: env(
      'APP_REDIS_URL',
      Type.String({
        default: '',
        pattern: '^(|rediss?://\\S+)$',
        allowed: 'a redis://[user:password@]host:port[/db] or rediss:// (TLS) URL, or "" for no cluster',
        secret: true,
        description: 'cluster mode on: the Redis shared by the instances (rediss:// = TLS); a secret, never logged; "" = one process, no Redis',
      }),
    ),
    instance_id: env('APP_INSTANCE_ID', Type.String({ default: '', pattern: '^[A-Za-z0-9_.:-]{0,128}$', allowed: 'up to 128 letters, digits, _ . : -', description: "this instance's name in leases and metrics; empty = hostname-pid-random" })),
    capacity: env('APP_CLUSTER_CAPACITY', Type.Integer({ default: 0, minimum: 0, maximum: 1024, description: 'cameras this instance may own; 0 = streams.max_cameras' })),
    lease_ttl_ms: Type.Integer({ default: 5000, minimum: 500, maximum: 600_000, description: 'a camera lease (and an instance heartbeat) lapses after this without renewal; failover ≈ this + a heartbeat + start' }),
    heartbeat_ms: Type.Integer({ default: 1000, minimum: 50, maximum: 60_000, description: 'heartbeat, lease renewal and rebalancing period (≤ lease_ttl_ms / 2)' }),
    max_moves_per_interval: Type.Integer({ default: 2, minimum: 1, maximum: 1024, description: 'cameras one instance hands over per heartbeat when rebalancing (joins are gradual)' }),
    stream_max_len: Type.Integer({ default: 10_000, minimum: 100, maximum: 10_000_000, description: 'events kept in the Redis Stream (approximate); the SSE resume window' }),
    key_prefix: Type.String({ default: 'sms:', description: 'prefix of every Redis key, so several deployments can share one Redis' }),
  },
  { description: 'cluster mode (README "Cluster mode"): off while redis_url is empty' },
);

const CAMERAS_EXAMPLE = `cameras:
  - id: front-door
    url: rtsp://user:pass@192.168.1.20:554/stream1   # rtsp:// (tcp; transport: udp), http(s)://, .m3u8
    fps: 5
    transport: tcp
  - id: lobby-file
    url: /videos/lobby.mp4      # local file: loops at EOF unless loop: false
    loop: true
    realtime: true              # false = decode as fast as possible
    weight: 2                   # strategy adaptive: twice the share of a weight-1 camera under overload
    decode: auto                # auto: keyframes only when dense enough for the rate; all; keyframes
  - id: usb
    url: "0"                    # camera index; also "auto" or "video=USB Video Device"
    capture: { enabled: true, every_n: 30 }`;

export const AppConfigSchema = section({
  log_level: env('APP_LOG_LEVEL', oneOf(LOG_LEVELS, { default: 'info', description: 'pino level' })),
  server: ServerSchema,
  model: ModelSchema,
  engine: EngineSchema,
  streams: StreamsSchema,
  sources: SourcesSchema,
  rtsp_url: env('APP_RTSP_URL', Type.String({ default: '', description: 'the simplest setup, one camera: its URL (e.g. rtsp://user:pass@10.0.0.12:554/stream1); it runs as camera id `default`' })),
  rtsp_transport: env('APP_RTSP_TRANSPORT', oneOf(RTSP_TRANSPORTS, { default: 'tcp', description: "that camera's RTSP transport; `udp` for cameras that only send RTP over UDP" })),
  cameras: env('APP_CAMERAS', Type.Array(CameraSchema, { default: [], allowed: 'a list of cameras', description: 'cameras started at boot (more through the camera API); in the environment, the whole list as YAML or JSON text (e.g. from one SSM parameter), replacing the file\'s', example_yaml: CAMERAS_EXAMPLE })),
  capture: CaptureSchema,
  telemetry: TelemetrySchema,
  cluster: ClusterSchema,
  data_dir: env('APP_DATA_DIR', Type.String({ default: 'data', description: 'state kept across restarts (cameras.json)' })),
});

export type AppConfig = Static<typeof AppConfigSchema>;
export type ServerConfig = Static<typeof ServerSchema>;
export type AuthConfig = Static<typeof AuthSchema>;
export type ApiKeyConfig = Static<typeof ApiKeySchema>;
export type ApiRole = (typeof API_ROLES)[number];
export type ModelConfig = Static<typeof ModelSchema>;
export type EngineConfig = Static<typeof EngineSchema>;
export type ReconnectConfig = Static<typeof ReconnectSchema>;
export type StreamsConfig = Static<typeof StreamsSchema>;
export type SourcesConfig = Static<typeof SourcesSchema>;
export type CameraCaptureOverride = Static<typeof CameraCaptureSchema>;
export type CameraConfig = Static<typeof CameraSchema>;
export type S3Config = Static<typeof S3Schema>;
export type CaptureConfig = Static<typeof CaptureSchema>;
export type TelemetryConfig = Static<typeof TelemetrySchema>;
export type ClusterConfig = Static<typeof ClusterSchema>;
export type Provider = (typeof PROVIDERS)[number];
export type LogLevel = (typeof LOG_LEVELS)[number];
export type RtspTransport = (typeof RTSP_TRANSPORTS)[number];
export type StreamStrategy = (typeof STREAM_STRATEGIES)[number];
export type DecodeMode = (typeof DECODE_MODES)[number];
export type RateControlConfig = Static<typeof RateControlSchema>;
/** Where video is decoded: `auto` = NVDEC when ffmpeg can use CUDA here, else CPU. */
export type HwaccelMode = (typeof HWACCEL_MODES)[number];

/** Every APP_* name the schema declares, as a type: a misspelt name does not compile. */
type EnvNamesOf<T> = T extends { env: infer N extends string } ? N : T extends TObject<infer P extends TProperties> ? { [K in keyof P]: EnvNamesOf<P[K]> }[keyof P] : never;
export type EnvName = EnvNamesOf<typeof AppConfigSchema>;

/** One key of the schema with where it lives. */
export interface SchemaKey {
  /** Dotted path, e.g. `server.port`. */
  path: string;
  schema: TSchema & KeyAnnotations;
}

/** Leaf keys (and records/arrays, which are values) in declaration order. */
export function schemaKeys(schema: TSchema = AppConfigSchema, prefix = ''): SchemaKey[] {
  const properties = (schema as TObject).properties;
  if (schema.type !== 'object' || !properties) return [{ path: prefix.slice(0, -1), schema }];
  return Object.entries(properties).flatMap(([key, child]) => schemaKeys(child, `${prefix}${key}.`));
}

/** APP_* variable → dotted key, derived from the `env` tags above. */
export const ENV_KEYS: Readonly<Record<EnvName, string>> & Readonly<Partial<Record<string, string>>> = Object.fromEntries(
  schemaKeys()
    .filter((k) => k.schema.env !== undefined)
    .map((k) => [k.schema.env, k.path]),
) as Record<EnvName, string>;

/** The default value of a node: sections are built from their keys' defaults. */
function defaultsOf(schema: TSchema): unknown {
  const properties = (schema as TObject).properties;
  if (schema.type !== 'object' || !properties) return schema.default;
  const entries = Object.entries(properties).flatMap(([key, child]) => {
    const value = defaultsOf(child);
    return value === undefined ? [] : [[key, value] as const];
  });
  // A section none of whose keys has a default (a camera's `capture`) stays absent.
  return entries.length === 0 ? undefined : Object.fromEntries(entries);
}

const DEFAULTS = defaultsOf(AppConfigSchema) as AppConfig;

/** Defaults of a camera's optional settings (id and url have none). */
export const CAMERA_DEFAULTS = defaultsOf(CameraSchema) as Omit<CameraConfig, 'id' | 'url' | 'capture' | 'hwaccel'>;

/** What an absent optional camera key means. */
export const CAMERA_OPTIONAL_DEFAULTS: Required<Pick<CameraConfig, 'weight' | 'decode'>> = { weight: 1, decode: 'auto' };

/** A fresh copy of every default. */
export function defaultConfig(): AppConfig {
  return structuredClone(DEFAULTS);
}
