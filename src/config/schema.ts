/**
 * The typed shape of the service configuration and its defaults.
 * Keys are snake_case so that the YAML file, the README table and the code
 * use one vocabulary. `config.example.yaml` documents every key.
 */

export type Provider = 'auto' | 'cpu' | 'cuda';
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
export type RtspTransport = 'tcp' | 'udp';

export interface ServerConfig {
  host: string;
  port: number;
  /** Largest accepted POST /predict body. */
  max_upload_bytes: number;
  /** Largest accepted decoded image (width × height), against decompression bombs. */
  max_image_pixels: number;
  /** Value of Access-Control-Allow-Origin; empty disables CORS headers. */
  cors_origin: string;
}

export interface ModelConfig {
  /** Manifest name or alias (`person_detector`, `classifier`). */
  name: string;
  /** Extra directory searched first for model files. */
  models_dir: string;
  /** Where `models:fetch` stores downloads; searched after models_dir. */
  cache_dir: string;
  top_k: number;
  person_score_threshold: number;
  /** Minimum score for a detection box to be reported. */
  detection_score_threshold: number;
  nms_iou_threshold: number;
  /** Alias → manifest name. */
  aliases: Record<string, string>;
}

export interface EngineConfig {
  provider: Provider;
  /** Worker threads in the inference pool; 0 = derived from the core count. */
  pool_size: number;
  /** onnxruntime intra-op threads per session; 0 = derived from the core count. */
  intra_op_threads: number;
  /** Largest batch the dispatcher forms across cameras. */
  max_batch: number;
  /** Longest a ready frame waits for a batch to fill. */
  max_wait_ms: number;
  /** Batches submitted to the pool and not yet answered. */
  max_in_flight_batches: number;
  /** Frames older than this when a batch forms are dropped as `stale`. */
  max_frame_age_ms: number;
  /** A batch not answered within this is reported as a stalled worker. */
  inference_stall_ms: number;
}

export interface ReconnectConfig {
  initial_ms: number;
  max_ms: number;
  multiplier: number;
  /** Fraction of the delay added or removed at random (0..1). */
  jitter: number;
  /** A connection that streams this long resets the backoff. */
  reset_after_ms: number;
}

export interface StreamsConfig {
  /** Slots per camera ring (≥ 3: one written, one read, one ready). */
  ring_slots: number;
  /** Rings reserved in the shared frame arena. */
  max_cameras: number;
  default_fps: number;
  reconnect: ReconnectConfig;
  /** No frame for this long → ffmpeg is killed and restarted. */
  stall_timeout_ms: number;
  /** Identical frames for this long → camera reported `frozen`; 0 disables. */
  frozen_after_ms: number;
  /** Start the lavfi testsrc2 camera when no camera is configured. */
  demo_camera: boolean;
  /** ffmpeg stderr lines logged per camera per minute. */
  ffmpeg_log_lines_per_minute: number;
  sse_heartbeat_ms: number;
  /** Events kept for SSE `Last-Event-ID` resume. */
  event_history: number;
  /** A slow SSE/WebSocket client's events are dropped past this buffered size. */
  client_max_buffered_bytes: number;
}

export interface CameraCaptureOverride {
  enabled?: boolean;
  every_n?: number;
}

export interface CameraConfig {
  id: string;
  url: string;
  /** Frames per second sampled by ffmpeg; 0 = the default. */
  fps: number;
  transport: RtspTransport;
  /** For files: restart at EOF (true) or end the camera cleanly (false). */
  loop: boolean;
  /** Play files at their native rate (true) or as fast as decoded (false). */
  realtime: boolean;
  capture?: CameraCaptureOverride;
}

export interface S3Config {
  bucket: string;
  prefix: string;
  region: string;
  endpoint: string;
  force_path_style: boolean;
  access_key_id: string;
  secret_access_key: string;
  concurrency: number;
  max_retries: number;
  delete_after_upload: boolean;
}

export interface CaptureConfig {
  inference: boolean;
  dir: string;
  every_n: number;
  /** Longest side of saved images; 0 = the camera's own size. */
  max_side: number;
  jpeg_quality: number;
  /** Encodes waiting at once; more are skipped and counted. */
  max_pending: number;
  retention_max_bytes: number;
  retention_max_age_hours: number;
  s3: S3Config;
}

export interface TelemetryConfig {
  /** Seconds between CloudWatch EMF snapshot lines; 0 disables. */
  emf_interval_s: number;
  emf_namespace: string;
}

export interface AppConfig {
  log_level: LogLevel;
  server: ServerConfig;
  model: ModelConfig;
  engine: EngineConfig;
  streams: StreamsConfig;
  /** The seed's single camera; becomes camera `default`. */
  rtsp_url: string;
  cameras: CameraConfig[];
  capture: CaptureConfig;
  telemetry: TelemetryConfig;
}

export const CAMERA_DEFAULTS: Omit<CameraConfig, 'id' | 'url'> = {
  fps: 0,
  transport: 'tcp',
  loop: true,
  realtime: true,
};

export function defaultConfig(): AppConfig {
  return {
    log_level: 'info',
    server: {
      host: '0.0.0.0',
      port: 8000,
      max_upload_bytes: 10 * 1024 * 1024,
      max_image_pixels: 40_000_000,
      cors_origin: '*',
    },
    model: {
      name: 'mobilenet_v2_int8',
      models_dir: '',
      cache_dir: '.cache/models',
      top_k: 3,
      person_score_threshold: 0.6,
      detection_score_threshold: 0.3,
      nms_iou_threshold: 0.45,
      aliases: { person_detector: 'yolox_nano', classifier: 'mobilenet_v2_int8' },
    },
    engine: {
      provider: 'auto',
      pool_size: 0,
      intra_op_threads: 0,
      max_batch: 8,
      max_wait_ms: 10,
      max_in_flight_batches: 2,
      max_frame_age_ms: 1000,
      inference_stall_ms: 10_000,
    },
    streams: {
      ring_slots: 4,
      max_cameras: 16,
      default_fps: 5,
      reconnect: { initial_ms: 500, max_ms: 30_000, multiplier: 2, jitter: 0.2, reset_after_ms: 60_000 },
      stall_timeout_ms: 10_000,
      frozen_after_ms: 10_000,
      demo_camera: true,
      ffmpeg_log_lines_per_minute: 20,
      sse_heartbeat_ms: 15_000,
      event_history: 256,
      client_max_buffered_bytes: 1024 * 1024,
    },
    rtsp_url: '',
    cameras: [],
    capture: {
      inference: false,
      dir: 'data/inference',
      every_n: 10,
      max_side: 1280,
      jpeg_quality: 85,
      max_pending: 8,
      retention_max_bytes: 0,
      retention_max_age_hours: 0,
      s3: {
        bucket: '',
        prefix: 'inference',
        region: '',
        endpoint: '',
        force_path_style: false,
        access_key_id: '',
        secret_access_key: '',
        concurrency: 4,
        max_retries: 0,
        delete_after_upload: false,
      },
    },
    telemetry: { emf_interval_s: 60, emf_namespace: 'StreamMlService' },
  };
}
