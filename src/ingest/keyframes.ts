/**
 * Keyframe-only decoding: learns a stream's keyframe spacing (GOP) and decides
 * whether `-skip_frame nokey` can serve a camera's sampling rate. A P-frame
 * cannot be decoded without its predecessors, so below the keyframe rate the
 * only frames that can be skipped cheaply are whole GOPs: decoding keyframes
 * alone costs one decode per keyframe instead of one per frame.
 */
import { spawn } from 'node:child_process';
import type { CameraConfig, DecodeMode } from '../config/schema.js';
import { inputArgs } from './ffmpeg-args.js';
import { track } from './frame-reader.js';
import { protocolWhitelistArgs } from './protocol-whitelist.js';
import { setNice } from './priority.js';
import type { ResolvedSource } from './source.js';

export interface KeyframeStats {
  /** Keyframes seen during the probe. */
  count: number;
  /** Median spacing between keyframes, s (null with fewer than two). */
  medianS: number | null;
  /** Largest spacing seen, s; with fewer than two keyframes, a lower bound: the probe length. */
  maxS: number;
}

/** A sampling interval may be this much shorter than the keyframe spacing (timestamp jitter). */
const SPACING_TOLERANCE = 1.05;

export interface DecodeChoice {
  keyframesOnly: boolean;
  /** Why, for /health/stream. */
  reason: string;
}

/** Pure: which frames to decode for a mode, a sampling rate and what is known of the keyframes. */
export function chooseDecode(mode: DecodeMode, fps: number, keyframes: KeyframeStats | null): DecodeChoice {
  if (mode === 'all') return { keyframesOnly: false, reason: 'decode: all' };
  if (fps <= 0) return { keyframesOnly: false, reason: 'sampling at the source rate needs every frame' };
  if (keyframes === null) {
    return mode === 'keyframes'
      ? { keyframesOnly: true, reason: 'decode: keyframes (spacing not measured yet)' }
      : { keyframesOnly: false, reason: 'keyframe spacing not measured yet' };
  }
  const spacing = keyframes.count >= 2 ? `keyframes every ${keyframes.maxS.toFixed(2)} s` : `fewer than 2 keyframes in ${keyframes.maxS.toFixed(1)} s`;
  if (keyframes.maxS <= (1 / fps) * SPACING_TOLERANCE) {
    return { keyframesOnly: true, reason: `${spacing}, sampling every ${(1 / fps).toFixed(2)} s: decoding keyframes only` };
  }
  return { keyframesOnly: false, reason: `${spacing} are too sparse for ${fps} fps: decoding all frames` };
}

/** Parses ffmpeg `showinfo` lines: keyframe timestamps in order. */
export function keyframeTimes(stderr: string): number[] {
  const times: number[] = [];
  for (const match of stderr.matchAll(/pts_time:\s*(-?[0-9.]+)[^\n]*?iskey:1/g)) times.push(Number(match[1]));
  return times;
}

export function keyframeStats(times: readonly number[], probeSeconds: number): KeyframeStats {
  if (times.length < 2) return { count: times.length, medianS: null, maxS: probeSeconds };
  const gaps = times.slice(1).map((t, i) => t - (times[i] as number)).filter((g) => g > 0).sort((a, b) => a - b);
  if (gaps.length === 0) return { count: times.length, medianS: null, maxS: probeSeconds };
  return { count: times.length, medianS: gaps[Math.floor(gaps.length / 2)] as number, maxS: gaps[gaps.length - 1] as number };
}

export interface ProbeOptions {
  ffmpegPath: string;
  source: ResolvedSource;
  camera: Pick<CameraConfig, 'fps'>;
  /** Stream time read, s. */
  seconds: number;
  ioTimeoutMs: number;
  /** Wall-clock limit; the probe is killed after it. */
  timeoutMs: number;
  /** Nice value for the probe (it yields like the decoders). */
  nice?: number;
  onSpawn?(pid: number): void;
  onExit?(pid: number): void;
}

export interface KeyframeProbe {
  result: Promise<KeyframeStats | null>;
  /** Kills the probe; resolves once it is reaped. */
  cancel(): Promise<void>;
}

/**
 * Reads `seconds` of the stream with only keyframes decoded (`-skip_frame
 * nokey`, one thread) and reports their spacing. Null when the probe fails.
 */
export function probeKeyframes(opts: ProbeOptions): KeyframeProbe {
  const input = inputArgs(opts.source, { ...opts.camera, loop: false, realtime: false }, opts.ioTimeoutMs);
  const args = [
    '-nostdin', '-hide_banner', '-nostats', '-loglevel', 'info',
    // The same protocol whitelist as the stream's ffmpeg: the probe opens the same URL.
    ...protocolWhitelistArgs(opts.source),
    '-threads', '1', '-skip_frame', 'nokey', '-t', String(opts.seconds),
    ...input,
    '-map', '0:v:0', '-an', '-vf', 'showinfo', '-f', 'null', '-',
  ];
  const child = spawn(opts.ffmpegPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  track(child);
  const pid = child.pid;
  if (pid !== undefined) {
    opts.onSpawn?.(pid);
    if (opts.nice) setNice(pid, opts.nice);
  }
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => {
    // Only showinfo lines matter; keep the text bounded.
    stderr = (stderr + d).slice(-1_000_000);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
  const result = new Promise<KeyframeStats | null>((resolve) => {
    child.on('error', () => resolve(null));
    child.on('close', (code) => {
      clearTimeout(timer);
      if (pid !== undefined) opts.onExit?.(pid);
      const times = keyframeTimes(stderr);
      // A killed live probe still measured what it saw; an empty failure did not.
      if (code !== 0 && times.length === 0) return resolve(null);
      resolve(keyframeStats(times, opts.seconds));
    });
  });
  return {
    result,
    cancel: async () => {
      child.kill('SIGKILL');
      await result;
    },
  };
}
