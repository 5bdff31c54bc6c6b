/**
 * Decoder worker: one per camera. Runs the supervisor and writes each frame
 * straight into the camera's ring slot (and, when asked, a capture-size copy
 * into a small shared capture buffer). Posts only state changes and a 1 s
 * status tick to the main thread, never per-frame messages.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { FrameArena } from '../frames/ring.js';
import { CaptureBuffer } from '../frames/capture-buffer.js';
import type { DecoderInit, FromDecoder, ToDecoder } from './decoder-protocol.js';
import { StreamSupervisor, type FrameTarget } from './supervisor.js';

const init = workerData as DecoderInit;
const port = parentPort;
if (!port) throw new Error('decoder-worker must run as a worker thread');
const post = (message: FromDecoder): void => port.postMessage(message);

const ring = new FrameArena(init.arena).ring(init.ringIndex);
const pidSlot = new Int32Array(init.pidSlot);
const PID_INDEX = { stream: 0, probe: 1 } as const;

// Output frame k of pipe:1 and of pipe:3 come from the same sampled frame, so
// the capture copy is matched to its ring frame number by k (per ffmpeg run).
const MAP_SIZE = 64;
const ringNoOf = new Int32Array(MAP_SIZE);
const indexOf = new Int32Array(MAP_SIZE).fill(-1);
let primaryIndex = -1;
let captureIndex = -1;
let slot = -1;
let capture: CaptureBuffer | null = null;

function remember(index: number, frameNo: number): void {
  ringNoOf[index % MAP_SIZE] = frameNo;
  indexOf[index % MAP_SIZE] = index;
  capture?.tag(index, frameNo);
}

const frames: FrameTarget = {
  onSize: () => {
    primaryIndex = -1;
    indexOf.fill(-1);
  },
  acquire: () => {
    primaryIndex++;
    slot = ring.beginWrite();
    if (slot < 0) {
      remember(primaryIndex, -1);
      return null;
    }
    return ring.pixels(slot);
  },
  commit: () => {
    remember(primaryIndex, ring.commitWrite(slot, Date.now()));
    slot = -1;
  },
  abort: () => {
    if (slot >= 0) ring.abortWrite(slot);
    slot = -1;
  },
};

const captureTarget: FrameTarget = {
  onSize: (width, height) => {
    captureIndex = -1;
    if (!capture || capture.width !== width || capture.height !== height) {
      capture = CaptureBuffer.create(width, height, 3);
      post({ type: 'capture', handle: capture.handle });
    }
  },
  acquire: () => {
    captureIndex++;
    return capture ? capture.beginWrite(captureIndex) : null;
  },
  commit: () => {
    const k = captureIndex % MAP_SIZE;
    capture?.commitWrite(indexOf[k] === captureIndex ? (ringNoOf[k] as number) : 0);
  },
  abort: () => capture?.abortWrite(),
};

const supervisor = new StreamSupervisor({
  camera: init.camera,
  streams: init.streams,
  ffmpegPath: init.ffmpegPath,
  output: init.output,
  frames,
  maxFailures: init.maxFailures,
  capture: init.captureMaxSide > 0 ? { maxSide: init.captureMaxSide, target: captureTarget } : undefined,
  sampleFps: init.sampleFps,
  decodeThreads: init.decodeThreads,
  hwaccel: init.hwaccel,
  events: {
    onState: (state, error) => post({ type: 'state', state, error }),
    onSourceSize: (w, h) => ring.setSourceSize(w, h),
    onLog: (level, line) => post({ type: 'log', level, line }),
    onSpawn: (pid, role) => Atomics.store(pidSlot, PID_INDEX[role], pid),
    onExit: (pid, role) => void Atomics.compareExchange(pidSlot, PID_INDEX[role], pid, 0),
    onGiveUp: () => post({ type: 'gave_up' }),
  },
});

let lastCount = 0;
let lastTickAt = Date.now();
const tick = setInterval(() => {
  const s = supervisor.stats();
  const now = Date.now();
  const count = s.framesIn + s.framesDropped;
  const fps = ((count - lastCount) * 1000) / Math.max(1, now - lastTickAt);
  lastCount = count;
  lastTickAt = now;
  post({
    type: 'status',
    tick: {
      fps_in: Math.round(fps * 10) / 10,
      frames_dropped: s.framesDropped,
      reconnects: s.reconnects,
      last_error: s.lastError,
      last_frame_at: s.lastFrameAt,
      sample_fps: s.sampleFps,
      keyframes_only: s.keyframesOnly,
      decode_reason: s.decodeReason,
      keyframe_interval_s: s.keyframeIntervalS,
      replans: s.replans,
      hwaccel: s.hwaccel,
    },
  });
}, init.statusIntervalMs ?? 1000);

port.on('message', (message: ToDecoder) => {
  if (message.type === 'rate') return supervisor.setSampleFps(message.fps);
  clearInterval(tick);
  void supervisor.stop().then(() => {
    post({ type: 'stopped' });
    port.close();
  });
});

post({ type: 'state', state: supervisor.state, error: null });
supervisor.start();
