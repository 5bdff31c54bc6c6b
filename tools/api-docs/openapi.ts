/**
 * The OpenAPI 3.0 description of the service, kept as code so that the
 * Postman collection is derived from it and cannot drift. Paths, methods,
 * summaries and who may call each route come from src/api/routes.ts; this
 * file adds what a reader needs per operation (parameters, bodies,
 * responses, examples). `generate.ts` writes it to src/api/static/openapi.json.
 */
import { ROUTES, type RouteId, type RouteInfo } from '../../src/api/routes.js';
import { CAMERA_STATES, RATE_REASONS, SOURCE_KINDS } from '../../src/contracts/camera.js';
import { DROP_REASONS } from '../../src/contracts/drops.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };
/** One operation's documentation; path, method, summary and security come from ROUTES. */
type Operation = JsonObject & { tags: string[]; responses: JsonObject };

const ref = (name: string): JsonObject => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: JsonObject, example?: Json): JsonObject => ({
  'application/json': example === undefined ? { schema } : { schema, example },
});
const errorResponse = (description: string, code: string, message: string): JsonObject => ({
  description,
  content: json(ref('Error'), { error: { code, message } }),
});

const cameraStatusExample: JsonObject = {
  id: 'door',
  url: 'rtsp://10.0.0.12:554/stream1',
  kind: 'rtsp',
  state: 'streaming',
  last_frame_age_ms: 41,
  fps_in: 5,
  fps_out: 5,
  drops: { superseded: 2, stale: 0 },
  frames_in: 1520,
  frames_out: 1511,
  reconnects: 1,
  last_error: null,
  source_width: 1280,
  source_height: 720,
  started_at: '2026-11-24T04:00:00.000Z',
  fps_configured: 5,
  fps_effective: 5,
  rate_reason: 'configured',
  rate_changes: 0,
  decode: { keyframes_only: false, keyframe_interval_s: null, reason: 'keyframe spacing not measured yet', threads: 1 },
  hwaccel: { mode: 'auto', device: 'cpu', fallback_reason: 'CUDA decoding unavailable: [AVHWDeviceContext @ 0x55d0c1e0] Cannot load libcuda.so.1' },
  latency_ms: { p50: 18, p95: 41, p99: 63, count: 300 },
};

const classifierEvent: JsonObject = {
  id: 1042,
  camera_id: 'door',
  camera: 'door',
  frame: 1511,
  captured_at: '2026-11-24T04:05:02.120Z',
  latency_ms: 18.4,
  model: 'mobilenet_v2_int8',
  predictions: [
    { label: 'teddy', score: 0.93 },
    { label: 'toy_poodle', score: 0.02 },
    { label: 'chow', score: 0.01 },
  ],
};

const detectorEvent: JsonObject = {
  id: 1043,
  camera_id: 'door',
  camera: 'door',
  frame: 1512,
  captured_at: '2026-11-24T04:05:02.320Z',
  latency_ms: 31.2,
  model: 'yolox_nano',
  predictions: [
    { label: 'person', score: 0.87 },
    { label: 'no_person', score: 0.13 },
  ],
  has_person: true,
  detections: [{ label: 'person', class_id: 0, score: 0.87, box: [412.5, 96, 801, 706.2] }],
};

const schemas: JsonObject = {
  Error: {
    type: 'object',
    required: ['error'],
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message'],
        properties: {
          code: { type: 'string', description: 'Stable machine-readable code.', example: 'unsupported_media_type' },
          message: { type: 'string', description: 'What went wrong, for people.', example: 'not an image' },
        },
      },
    },
  },
  Prediction: {
    type: 'object',
    required: ['label', 'score'],
    properties: {
      label: { type: 'string', example: 'teddy' },
      score: { type: 'number', format: 'float', minimum: 0, maximum: 1, example: 0.93 },
    },
  },
  Detection: {
    type: 'object',
    required: ['label', 'class_id', 'score', 'box'],
    properties: {
      label: { type: 'string', example: 'person' },
      class_id: { type: 'integer', example: 0 },
      score: { type: 'number', format: 'float', example: 0.87 },
      box: {
        type: 'array',
        description: '[x1, y1, x2, y2] in source-image pixels.',
        items: { type: 'number' },
        minItems: 4,
        maxItems: 4,
        example: [412.5, 96, 801, 706.2],
      },
    },
  },
  PredictResponse: {
    type: 'object',
    required: ['model', 'predictions', 'latency_ms', 'width', 'height'],
    properties: {
      model: { type: 'string', example: 'mobilenet_v2_int8' },
      predictions: { type: 'array', items: ref('Prediction'), description: 'Top-k classes (classifier) or person / no_person (detector).' },
      has_person: { type: 'boolean', description: 'Detector only: the person score reached the threshold.' },
      detections: { type: 'array', items: ref('Detection'), description: 'Detector only.' },
      latency_ms: { type: 'number', example: 9.8 },
      width: { type: 'integer', description: 'Width of the uploaded image.', example: 640 },
      height: { type: 'integer', description: 'Height of the uploaded image.', example: 480 },
    },
  },
  InferenceEvent: {
    type: 'object',
    description:
      'The fields every inference output shares: SSE and WebSocket events (`StreamEvent`) and the JSON written beside each captured image (`CaptureRecord`). ' +
      'The camera is `camera_id` everywhere; the events\' older `camera` field carries the same value for one release.',
    required: ['camera_id', 'frame', 'captured_at', 'latency_ms', 'model', 'predictions'],
    properties: {
      camera_id: { type: 'string', example: 'door' },
      frame: { type: 'integer', description: "The camera's ring frame number (matches the preview's X-Frame).", example: 1511 },
      captured_at: { type: 'string', format: 'date-time', description: 'When the decoder committed the frame.' },
      latency_ms: { type: 'number', description: 'Frame committed → result published.', example: 18.4 },
      model: { type: 'string', example: 'mobilenet_v2_int8' },
      predictions: { type: 'array', items: ref('Prediction') },
      has_person: { type: 'boolean', nullable: true, description: 'Detector only (absent, or null in capture records, for a classifier).' },
      detections: { type: 'array', nullable: true, items: ref('Detection'), description: 'Detector only: boxes in source pixels (events) or saved-image pixels (capture records).' },
    },
  },
  StreamEvent: {
    description: 'One inferred video frame. Sent as SSE `data:` (with `id:`) and as a WebSocket text message.',
    allOf: [
      ref('InferenceEvent'),
      {
        type: 'object',
        required: ['id', 'camera'],
        properties: {
          id: { type: 'integer', description: 'Monotonic across all cameras; the SSE event id.', example: 1042 },
          camera: { type: 'string', deprecated: true, description: 'Same as `camera_id`; kept for one release (0.2.x), then removed.', example: 'door' },
        },
      },
    ],
  },
  CaptureRecord: {
    description: 'The JSON file written beside each captured image (`capture.inference`), locally and in S3.',
    allOf: [
      ref('InferenceEvent'),
      {
        type: 'object',
        required: ['event_id', 'source_url', 'model_sha256', 'inferred_at', 'image', 'width', 'height', 'source_width', 'source_height'],
        properties: {
          event_id: { type: 'integer', description: 'The `id` of the StreamEvent this frame was sent as.' },
          source_url: { type: 'string', description: 'Camera URL with any user name and password removed.' },
          model_sha256: { type: 'string' },
          inferred_at: { type: 'string', format: 'date-time' },
          image: { type: 'string', description: 'File name of the image beside this JSON.' },
          width: { type: 'integer' },
          height: { type: 'integer' },
          source_width: { type: 'integer' },
          source_height: { type: 'integer' },
        },
      },
    ],
  },
  LatencySummary: {
    type: 'object',
    required: ['p50', 'p95', 'p99', 'count'],
    properties: {
      p50: { type: 'number' },
      p95: { type: 'number' },
      p99: { type: 'number' },
      count: { type: 'integer', description: 'Samples in the window.' },
    },
  },
  CameraState: {
    type: 'string',
    enum: [...CAMERA_STATES],
  },
  CameraStatus: {
    type: 'object',
    required: ['id', 'url', 'kind', 'state', 'last_frame_age_ms', 'fps_in', 'fps_out', 'drops', 'frames_in', 'frames_out', 'reconnects', 'last_error', 'source_width', 'source_height', 'started_at'],
    properties: {
      id: { type: 'string', example: 'door' },
      url: { type: 'string', example: 'rtsp://10.0.0.12:554/stream1' },
      kind: { type: 'string', enum: [...SOURCE_KINDS] },
      state: ref('CameraState'),
      last_frame_age_ms: { type: 'number', nullable: true, description: 'ms since the last frame; null before the first.' },
      fps_in: { type: 'number', description: 'Frames decoded per second.' },
      fps_out: { type: 'number', description: 'Frames inferred per second.' },
      drops: {
        type: 'object',
        description: `Dropped frames by reason (${DROP_REASONS.join(', ')}).`,
        additionalProperties: { type: 'integer' },
      },
      frames_in: { type: 'integer' },
      frames_out: { type: 'integer' },
      reconnects: { type: 'integer' },
      last_error: { type: 'string', nullable: true },
      source_width: { type: 'integer', description: 'Source picture width; detection boxes are in these pixels.' },
      source_height: { type: 'integer' },
      started_at: { type: 'string', format: 'date-time' },
      fps_configured: { type: 'number', description: 'Sampling rate the configuration asks for.' },
      fps_effective: { type: 'number', description: 'Sampling rate ffmpeg runs at now; lower than fps_configured while the engine cannot keep up (strategy adaptive).' },
      rate_reason: { type: 'string', enum: [...RATE_REASONS], description: 'Why fps_effective is what it is.' },
      rate_changes: { type: 'integer', description: 'Sampling rate changes applied (each restarts the camera\'s ffmpeg).' },
      decode: {
        type: 'object',
        description: 'Which frames ffmpeg decodes, and why.',
        properties: {
          keyframes_only: { type: 'boolean' },
          keyframe_interval_s: { type: 'number', nullable: true, description: 'Median keyframe spacing learnt from the stream; null while unknown.' },
          reason: { type: 'string', example: 'keyframes every 0.80 s, sampling every 1.00 s: decoding keyframes only' },
          threads: { type: 'integer', description: 'ffmpeg decoder threads; 0 = ffmpeg\'s choice.' },
        },
      },
      hwaccel: {
        type: 'object',
        description: 'Where video is decoded: the hwaccel mode asked for, the device used, and why not the GPU when auto fell back.',
        required: ['mode', 'device', 'fallback_reason'],
        properties: {
          mode: { type: 'string', enum: ['auto', 'cpu', 'cuda'] },
          device: { type: 'string', enum: ['cpu', 'cuda'] },
          fallback_reason: { type: 'string', nullable: true },
        },
      },
      latency_ms: { allOf: [ref('LatencySummary')], description: 'Frame committed → result published over the recent window; all 0 before the first result.' },
      owner: { type: 'string', nullable: true, description: 'Cluster mode only: the instance running the camera (null: none yet). Status of a camera run elsewhere is as of its last heartbeat.' },
    },
    example: cameraStatusExample,
  },
  CameraInput: {
    type: 'object',
    required: ['id', 'url'],
    properties: {
      id: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$', example: 'door' },
      url: {
        type: 'string',
        maxLength: 2048,
        description:
          'rtsp://, rtsps://, http(s):// (not link-local or cloud metadata addresses, not this service itself, only sources.allowed_hosts when set), ' +
          'an absolute file path below sources.file_dirs, or a camera device (auto, an index, video=NAME, /dev/videoN), as sources.allowed_schemes allows. ' +
          'lavfi: graphs and other ffmpeg protocols (concat:, subfile:, pipe:, data:, tcp:, udp:, …) are refused with 400 source_not_allowed. ' +
          'Credentials in the URL are never shown again: answers, logs and captures carry rtsp://user:***@host/….',
        example: 'rtsp://10.0.0.12:554/stream1',
      },
      fps: { type: 'number', minimum: 0, description: 'Frames per second sampled; 0 or absent = the default. Above streams.max_fps: 400, or clamped when streams.fps_over_max is clamp.', example: 5 },
      transport: { type: 'string', enum: ['tcp', 'udp'], default: 'tcp' },
      hwaccel: { type: 'string', enum: ['auto', 'cpu', 'cuda'], description: 'Video decoding for this camera; absent = streams.hwaccel. auto = NVDEC when ffmpeg can use CUDA, else CPU.' },
      loop: { type: 'boolean', description: 'Files: restart at the end instead of ending the camera.' },
      weight: { type: 'number', minimum: 0.01, default: 1, description: 'Share of the engine under overload relative to other cameras (strategy adaptive).' },
      decode: { type: 'string', enum: ['auto', 'all', 'keyframes'], default: 'auto', description: 'auto: keyframes only when they are dense enough for the sampling rate; all; keyframes (falls back to all when too sparse).' },
    },
  },
  Live: {
    type: 'object',
    required: ['status', 'uptime_s', 'version'],
    properties: {
      status: { type: 'string', enum: ['live'] },
      uptime_s: { type: 'number', example: 3600.5 },
      version: { type: 'string', example: '0.1.0' },
    },
  },
  Ready: {
    type: 'object',
    description: 'Without a key (when keys are configured) only `status` is sent.',
    required: ['status'],
    properties: {
      status: { type: 'string', enum: ['ready', 'degraded', 'not_ready'] },
      problems: { type: 'array', items: { type: 'string' }, description: 'Why this instance cannot do its job; empty when ready.' },
    },
  },
  Health: {
    type: 'object',
    description: 'Without a key (when keys are configured) only `status` is sent: liveness for load balancers, no details.',
    required: ['status'],
    properties: {
      status: { type: 'string', enum: ['ok', 'degraded'] },
      model: { type: 'string', example: 'mobilenet_v2_int8' },
      task: { type: 'string', enum: ['classification', 'detection'] },
      provider: { type: 'string', example: 'cpu' },
      uptime_s: { type: 'number', example: 3600.5 },
      cameras: { type: 'integer', example: 2 },
      version: { type: 'string', example: '0.1.0' },
      problems: { type: 'array', items: { type: 'string' }, description: 'Empty when healthy.' },
      cluster: {
        type: 'object',
        description: 'Cluster mode only. `redis: unreachable` makes the status `degraded`; cameras run here stop when their leases lapse.',
        required: ['instance', 'redis', 'reason', 'since', 'instances', 'cameras_owned', 'cameras_total'],
        properties: {
          instance: { type: 'string', example: 'ip-10-0-1-23-1-a1b2c3' },
          redis: { type: 'string', enum: ['ok', 'unreachable'] },
          reason: { type: 'string', nullable: true },
          since: { type: 'string', nullable: true, format: 'date-time' },
          instances: { type: 'integer', description: 'Live instances.' },
          cameras_owned: { type: 'integer', description: 'Cameras this instance runs.' },
          cameras_total: { type: 'integer', description: 'Cameras in the shared registry.' },
        },
      },
    },
  },
  CameraList: {
    type: 'object',
    required: ['cameras'],
    properties: { cameras: { type: 'array', items: ref('CameraStatus') }, limits: ref('CameraLimits') },
  },
  CameraLimits: {
    type: 'object',
    required: ['max_cameras', 'active_cameras', 'max_fps'],
    properties: {
      max_cameras: { type: 'integer', description: 'Cameras that may run or retry at once (streams.max_cameras).', example: 16 },
      active_cameras: { type: 'integer', description: 'Cameras running or retrying now; API cameras that gave up retrying do not count.', example: 2 },
      max_fps: { type: 'number', description: 'Highest camera fps accepted (streams.max_fps).', example: 30 },
    },
  },
  StreamToken: {
    type: 'object',
    required: ['token', 'role', 'expires_at', 'expires_in_s'],
    properties: {
      token: { type: 'string', description: 'Pass as `?token=` to /stream and /ws. HMAC-signed; names the key by a hash prefix, never the key itself.' },
      role: { type: 'string', enum: ['read', 'admin'] },
      expires_at: { type: 'string', format: 'date-time' },
      expires_in_s: { type: 'integer', example: 300 },
    },
  },
};

const securitySchemes: JsonObject = {
  apiKey: {
    type: 'http',
    scheme: 'bearer',
    description: 'An API key (server.auth.keys / APP_API_KEYS / APP_API_KEYS_FILE) as `Authorization: Bearer <key>`. Role `read`: streams, status, previews, /predict, /metrics; role `admin`: also camera changes. Not needed when no keys are configured (the service then listens on 127.0.0.1 only).',
  },
  streamToken: {
    type: 'apiKey',
    in: 'query',
    name: 'token',
    description: 'A short-lived token from POST /auth/token, for EventSource and browser WebSockets, which cannot send headers. Never put the API key itself in a URL.',
  },
};

const cameraId: JsonObject = {
  name: 'id',
  in: 'path',
  required: true,
  description: 'Camera id.',
  schema: { type: 'string' },
  example: 'door',
};

const html = (description: string): JsonObject => ({ description, content: { 'text/html': { schema: { type: 'string' } } } });

const operations: Record<RouteId, Operation> = {
  getHealth: {
    tags: ['health'],
    responses: {
      '200': {
        description: 'Model, provider, camera count and any problems.',
        content: json(ref('Health'), { status: 'ok', model: 'mobilenet_v2_int8', task: 'classification', provider: 'cpu', uptime_s: 3600.5, cameras: 2, version: '0.1.0', problems: [] }),
      },
    },
  },
  getLiveness: {
    tags: ['health'],
    description: 'For container restarts (Docker HEALTHCHECK, ECS container health check): 200 whenever the process serves HTTP, whatever the cameras or models do.',
    responses: { '200': { description: 'Alive.', content: json(ref('Live'), { status: 'live', uptime_s: 3600.5, version: '0.1.0' }) } },
  },
  getReadiness: {
    tags: ['health'],
    description: 'For load balancers: 503 while inference makes no progress, no camera could ever start, or the model file is missing.',
    responses: {
      '200': { description: 'Ready.', content: json(ref('Ready'), { status: 'ready', problems: [] }) },
      '503': { description: 'Not ready (`not_ready`), or `degraded` while the cluster store is unreachable, with the problems (with a key).', content: json(ref('Ready'), { status: 'not_ready', problems: ['no camera could start (door error: video file not found: /media/door.mp4)'] }) },
    },
  },
  getStreamHealth: {
    tags: ['health'],
    description: 'State, last frame age, fps in/out, drops by reason, reconnects and last error for every camera.',
    responses: { '200': { description: 'All cameras.', content: json(ref('CameraList'), { cameras: [cameraStatusExample], limits: { max_cameras: 16, active_cameras: 1, max_fps: 30 } }) } },
  },
  predict: {
    tags: ['inference'],
    requestBody: {
      required: true,
      content: {
        'multipart/form-data': {
          schema: {
            type: 'object',
            required: ['file'],
            properties: { file: { type: 'string', format: 'binary', description: 'JPEG, PNG or WebP image.' } },
          },
        },
      },
    },
    responses: {
      '200': {
        description: 'Predictions for the image.',
        content: json(ref('PredictResponse'), {
          model: 'mobilenet_v2_int8',
          predictions: [{ label: 'teddy', score: 0.93 }, { label: 'toy_poodle', score: 0.02 }, { label: 'chow', score: 0.01 }],
          latency_ms: 9.8,
          width: 640,
          height: 480,
        }),
      },
      '400': errorResponse('Not multipart, no `file` field, or an empty file.', 'empty_file', 'the "file" field is empty'),
      '413': errorResponse('Body over `server.max_upload_bytes`.', 'payload_too_large', 'request body exceeds 10485760 bytes'),
      '415': errorResponse('Not an image.', 'unsupported_media_type', 'not an image'),
      '422': errorResponse('Truncated image or too many pixels.', 'invalid_image', 'image could not be decoded'),
      '503': errorResponse('Too many images already waiting for inference; retry shortly.', 'busy', 'inference engine is busy: 64 images already waiting; retry shortly'),
    },
  },
  streamEvents: {
    tags: ['events'],
    description: 'Each event has `id:` (the StreamEvent id) and `data:` (the StreamEvent JSON). Reconnect with `Last-Event-ID` to resume from the short history. Comment lines are heartbeats.',
    parameters: [
      { name: 'camera', in: 'query', required: false, description: 'Comma-separated camera ids; absent = all cameras.', schema: { type: 'string' }, example: 'door' },
      { name: 'Last-Event-ID', in: 'header', required: false, description: 'Resume after this event id.', schema: { type: 'integer' } },
    ],
    responses: {
      '200': {
        description: 'An endless `text/event-stream`.',
        content: {
          'text/event-stream': {
            schema: { type: 'string' },
            example: `id: 1042\ndata: ${JSON.stringify(classifierEvent)}\n\n`,
          },
        },
      },
    },
  },
  websocketEvents: {
    tags: ['events'],
    description: 'Upgrade to a WebSocket. Each text message from the server is one StreamEvent JSON. Send `{"subscribe":["door"]}` or `{"unsubscribe":["door"]}` to choose cameras.',
    parameters: [
      { name: 'camera', in: 'query', required: false, description: 'Comma-separated camera ids to start with; absent = all cameras.', schema: { type: 'string' }, example: 'door' },
      { name: 'Upgrade', in: 'header', required: true, schema: { type: 'string', enum: ['websocket'] } },
    ],
    responses: {
      '101': {
        description: 'Switching protocols; then StreamEvent messages.',
        content: { 'application/json': { schema: ref('StreamEvent'), examples: { classifier: { value: classifierEvent }, detector: { value: detectorEvent } } } },
      },
      '426': errorResponse('Not a WebSocket upgrade.', 'upgrade_required', 'GET /ws expects a WebSocket upgrade'),
    },
  },
  listCameras: {
    tags: ['cameras'],
    responses: { '200': { description: 'All cameras with their status.', content: json(ref('CameraList'), { cameras: [cameraStatusExample], limits: { max_cameras: 16, active_cameras: 1, max_fps: 30 } }) } },
  },
  addCamera: {
    tags: ['cameras'],
    requestBody: { required: true, content: json(ref('CameraInput'), { id: 'door', url: 'rtsp://10.0.0.12:554/stream1', fps: 5 }) },
    responses: {
      '201': { description: 'Started.', content: json(ref('CameraStatus'), { ...cameraStatusExample, state: 'connecting', last_frame_age_ms: null, fps_in: 0, fps_out: 0, drops: {}, frames_in: 0, frames_out: 0, reconnects: 0, source_width: 0, source_height: 0, latency_ms: { p50: 0, p95: 0, p99: 0, count: 0 } }) },
      '400': errorResponse('Invalid input (invalid_camera; body not JSON: invalid_json; a source the policy refuses: source_not_allowed).', 'invalid_camera', 'camera.url: required'),
      '409': errorResponse('A camera with this id exists.', 'camera_exists', 'camera "door" already exists'),
      '413': errorResponse('JSON body over 64 KiB.', 'payload_too_large', 'request body exceeds 65536 bytes'),
      '503': errorResponse('Camera limit reached (streams.max_cameras; cameras that gave up retrying do not count): `no_free_ring`; `camera_not_started` when the server cannot start one (ffmpeg missing); in cluster mode `cluster_unavailable` when the registry in Redis is unreachable.', 'no_free_ring', 'camera limit reached: 16 of 16 cameras are running or retrying (streams.max_cameras)'),
    },
  },
  removeCamera: {
    tags: ['cameras'],
    parameters: [cameraId],
    responses: {
      '204': { description: 'Removed.' },
      '404': errorResponse('No such camera.', 'not_found', 'no camera "door"'),
      '503': errorResponse('Cluster mode: the registry in Redis is unreachable.', 'cluster_unavailable', 'cluster registry unavailable: Connection is closed.'),
    },
  },
  cameraPreview: {
    tags: ['cameras'],
    description: "Made on request from the latest frame; it keeps the source's aspect ratio, so detection boxes map onto it by scaling with width / source_width.",
    parameters: [cameraId],
    responses: {
      '200': {
        description: 'The picture.',
        headers: {
          'X-Image-Width': { description: 'JPEG width in pixels.', schema: { type: 'integer' } },
          'X-Image-Height': { description: 'JPEG height in pixels.', schema: { type: 'integer' } },
          'X-Frame': { description: 'Frame number shown, to match the boxes of the event with the same `frame`.', schema: { type: 'integer' } },
        },
        content: { 'image/jpeg': { schema: { type: 'string', format: 'binary' } } },
      },
      '404': errorResponse('No such camera.', 'not_found', 'no camera "door"'),
      '409': errorResponse('Cluster mode: another instance runs the camera; ask that one.', 'not_owner', 'camera "door" runs on instance ip-10-0-1-23-1-a1b2c3; previews come from the instance that runs the camera'),
      '503': errorResponse('No frame yet (Retry-After: 1).', 'no_frame', 'camera "door" has no frame yet'),
    },
  },
  metrics: {
    tags: ['health'],
    responses: {
      '200': {
        description: 'Prometheus text exposition format.',
        content: { 'text/plain': { schema: { type: 'string' }, example: '# TYPE stream_fps_out gauge\nstream_fps_out{camera="door"} 5\n' } },
      },
    },
  },
  openapi: {
    tags: ['docs'],
    responses: {
      '200': {
        description: 'OpenAPI 3.0 JSON.',
        content: json({ type: 'object' }, { openapi: '3.0.3', info: { title: 'stream-ml-service', version: '0.1.0' }, paths: { '/health': {} } }),
      },
    },
  },
  createStreamToken: {
    tags: ['auth'],
    description: 'Authenticate with the key in the Authorization header; no body. The token carries the key\'s role and expiry (server.auth.token_ttl_s) and is accepted only as `?token=` on /stream and /ws.',
    responses: {
      '200': {
        description: 'A signed stream token.',
        content: json(ref('StreamToken'), { token: 'v1.1796083500.read.3f9a1c0d4e5b.Qm9ndXMgc2lnbmF0dXJlIGZvciB0aGUgZXhhbXBsZQAA', role: 'read', expires_at: '2026-12-01T00:05:00.000Z', expires_in_s: 300 }),
      },
    },
  },
  docs: { tags: ['docs'], responses: { '200': html('Swagger UI page.') } },
  dashboard: { tags: ['docs'], responses: { '200': html('Dashboard page.') } },
  dashboardAsset: {
    tags: ['docs'],
    parameters: [{ name: 'file', in: 'path', required: true, description: 'Path below /static/, may contain "/".', schema: { type: 'string' }, example: 'app.js' }],
    responses: { '200': { description: 'The file.', content: { '*/*': { schema: { type: 'string', format: 'binary' } } } }, '404': errorResponse('No such file.', 'not_found', 'no such file /static/nothing.js') },
  },
  swaggerUiAsset: {
    tags: ['docs'],
    parameters: [{ name: 'file', in: 'path', required: true, description: 'File of the swagger-ui-dist package.', schema: { type: 'string' }, example: 'swagger-ui.css' }],
    responses: { '200': { description: 'The file.', content: { '*/*': { schema: { type: 'string', format: 'binary' } } } }, '404': errorResponse('No such file.', 'not_found', 'no such file /static/nothing.js') },
  },
};

/** The answers of the gate in front of every protected route. */
function gateResponses(route: RouteInfo): JsonObject {
  const how = route.queryToken ? 'Authorization: Bearer <key>, or ?token= from POST /auth/token' : 'Authorization: Bearer <key>';
  return {
    '401': errorResponse('No key, or a wrong or expired key or token (sent with WWW-Authenticate: Bearer).', 'unauthorized', `an API key is required: send ${how}`),
    '403': errorResponse(
      route.access === 'admin' ? 'The key has the role read; this route needs admin. Also: a browser origin not in server.cors_origins.' : 'A browser origin that is neither this service nor in server.cors_origins.',
      route.access === 'admin' ? 'forbidden' : 'origin_not_allowed',
      route.access === 'admin' ? `${route.method} ${route.path} needs an admin key; this key has the role read` : 'requests from this browser origin are not allowed (server.cors_origins)',
    ),
    '429': errorResponse('Too many failed authentications from this client (server.auth.max_failures_per_minute); see Retry-After.', 'too_many_failures', 'too many failed authentications from this client; retry in 6 s'),
  };
}

/** ROUTES' `/static/*` is documented as `/static/{file}`. */
function openApiPath(path: string): string {
  return path.endsWith('/*') ? `${path.slice(0, -1)}{file}` : path;
}

function buildPaths(): JsonObject {
  const paths: Record<string, JsonObject> = {};
  for (const route of ROUTES as readonly RouteInfo[]) {
    const doc = operations[route.id as RouteId];
    const isPublic = route.access === 'public';
    const security: Json[] = isPublic ? [] : route.queryToken ? [{ apiKey: [] }, { streamToken: [] }] : [{ apiKey: [] }];
    const description = isPublic ? doc.description : `${doc.description ? `${doc.description as string}\n\n` : ''}Needs a ${route.access === 'admin' ? '`admin`' : '`read` or `admin`'} key.`;
    (paths[openApiPath(route.path)] ??= {})[route.method.toLowerCase()] = {
      ...doc,
      operationId: route.id,
      summary: route.summary,
      ...(description === undefined ? {} : { description }),
      security,
      responses: isPublic ? doc.responses : { ...doc.responses, ...gateResponses(route) },
    };
  }
  return paths;
}

export function buildOpenApi(version: string): JsonObject {
  return {
    openapi: '3.0.3',
    info: {
      title: 'stream-ml-service',
      version,
      description: 'Video-stream inference: cameras and files in, live ML predictions out over REST, Server-Sent Events and WebSocket.',
      license: { name: 'Apache-2.0' },
    },
    servers: [{ url: '/', description: 'This service' }],
    tags: [
      { name: 'inference', description: 'One image in, predictions out.' },
      { name: 'events', description: 'Live predictions for every inferred frame.' },
      { name: 'cameras', description: 'Add, list and remove cameras at run time.' },
      { name: 'health', description: 'Health and metrics.' },
      { name: 'auth', description: 'Stream tokens for clients that cannot send headers.' },
      { name: 'docs', description: 'Pages and documents.' },
    ],
    paths: buildPaths(),
    components: { schemas, securitySchemes },
  };
}
