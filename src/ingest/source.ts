/**
 * Classifies a camera URL into the kind of input ffmpeg needs. Pure apart from
 * the device/file look-ups, which come through `SourceEnv` so tests can cover
 * every platform on one machine.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CameraConfig, RtspTransport } from '../config/schema.js';
import type { SourceKind } from '../contracts/camera.js';

export type DevicePlatform = 'linux' | 'win32' | 'darwin';
export type DeviceFormat = 'v4l2' | 'dshow' | 'avfoundation';

export type ResolvedSource =
  | { kind: 'rtsp'; url: string; transport: RtspTransport }
  | { kind: 'http'; url: string; hls: boolean }
  | { kind: 'file'; path: string }
  | { kind: 'device'; format: DeviceFormat; input: string; label: string }
  | { kind: 'lavfi'; graph: string };

/** A video capture device the platform reports. */
export interface VideoDevice {
  /** What ffmpeg takes as input: `/dev/video0` on Linux, the name elsewhere. */
  input: string;
  name: string;
}

export interface SourceEnv {
  platform: DevicePlatform;
  fileExists(path: string): boolean;
  /** Capture devices in index order (empty when unknown or none). */
  listDevices(): VideoDevice[];
  cwd: string;
}

/** A camera URL that cannot be turned into an ffmpeg input. */
export class SourceError extends Error {
  override readonly name = 'SourceError';
}

const INDEX = /^\d{1,3}$/;
const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;
const DEV_VIDEO = /^video(\d+)$/;

/** Linux capture devices: /dev/videoN in numeric order, named from sysfs when it can. */
export function listLinuxVideoDevices(devDir = '/dev', sysDir = '/sys/class/video4linux'): VideoDevice[] {
  let entries: string[];
  try {
    entries = readdirSync(devDir);
  } catch {
    return [];
  }
  return entries
    .filter((e) => DEV_VIDEO.test(e))
    .sort((a, b) => Number(DEV_VIDEO.exec(a)?.[1]) - Number(DEV_VIDEO.exec(b)?.[1]))
    .map((e) => {
      let name = e;
      try {
        name = readFileSync(`${sysDir}/${e}/name`, 'utf8').trim() || e;
      } catch {
        // sysfs is optional (containers): the node name will do.
      }
      return { input: `${devDir}/${e}`, name };
    });
}

/** Video devices from `ffmpeg -list_devices true -f dshow -i dummy` (stderr), in order. */
export function parseDshowDevices(stderr: string): VideoDevice[] {
  const devices: VideoDevice[] = [];
  let inVideoSection = false;
  for (const line of stderr.split(/\r?\n/)) {
    // ffmpeg ≥ 5 tags each device "(video)"; older builds group them under a heading.
    if (/DirectShow video devices/.test(line)) inVideoSection = true;
    else if (/DirectShow audio devices/.test(line)) inVideoSection = false;
    const m = /\]\s+"([^"]+)"(\s+\((video|audio|none)\))?\s*$/.exec(line);
    if (!m) continue;
    const tag = m[3];
    if (tag === 'video' || (tag === undefined && inVideoSection)) devices.push({ input: m[1] as string, name: m[1] as string });
  }
  return devices;
}

function listDshowDevices(ffmpegPath: string): VideoDevice[] {
  const r = spawnSync(ffmpegPath, ['-hide_banner', '-list_devices', 'true', '-f', 'dshow', '-i', 'dummy'], { encoding: 'utf8', timeout: 10_000, windowsHide: true });
  return parseDshowDevices(r.stderr ?? '');
}

/** The real environment. On Windows, indexes and `auto` need ffmpegPath to list dshow devices. */
export function defaultSourceEnv(platform: NodeJS.Platform = process.platform, ffmpegPath?: string): SourceEnv {
  const p: DevicePlatform = platform === 'win32' || platform === 'darwin' ? platform : 'linux';
  return {
    platform: p,
    fileExists: existsSync,
    // avfoundation opens indexes itself; dshow only by name, so ask ffmpeg for the list.
    listDevices: p === 'linux' ? () => listLinuxVideoDevices() : p === 'win32' && ffmpegPath ? () => listDshowDevices(ffmpegPath) : () => [],
    cwd: process.cwd(),
  };
}

/** The coarse kind of a camera URL, without touching the file system. */
export function sourceKindOf(url: string): SourceKind {
  const u = url.trim();
  const scheme = SCHEME.exec(u)?.[1]?.toLowerCase();
  if (scheme === 'rtsp' || scheme === 'rtsps') return 'rtsp';
  if (scheme === 'http' || scheme === 'https') return 'http';
  if (u.toLowerCase().startsWith('lavfi:')) return 'lavfi';
  if (u === 'auto' || INDEX.test(u) || u.startsWith('video=') || u.startsWith('/dev/video')) return 'device';
  return 'file';
}

function deviceFormat(platform: DevicePlatform): DeviceFormat {
  return platform === 'win32' ? 'dshow' : platform === 'darwin' ? 'avfoundation' : 'v4l2';
}

function resolveDevice(spec: string, env: SourceEnv): ResolvedSource {
  const format = deviceFormat(env.platform);
  const devices = env.listDevices();
  const notFound = (what: string): SourceError =>
    new SourceError(
      env.platform === 'linux'
        ? `no camera device found for ${what} (looked for /dev/video*${devices.length ? `; found ${devices.map((d) => d.input).join(', ')}` : ''})`
        : `no camera device found for ${what} (${format} lists none; name the camera as video=NAME)`,
    );

  if (format === 'v4l2') {
    if (spec.startsWith('/dev/')) {
      if (!env.fileExists(spec)) throw new SourceError(`camera device ${spec} does not exist`);
      return { kind: 'device', format, input: spec, label: spec };
    }
    let device: VideoDevice | undefined;
    if (spec === 'auto') {
      device = devices[0];
      if (!device) throw new SourceError('no camera device found (looked for /dev/video*)');
    } else if (INDEX.test(spec)) {
      const path = `/dev/video${Number(spec)}`;
      device = devices.find((d) => d.input === path) ?? (env.fileExists(path) ? { input: path, name: path } : undefined);
      if (!device) throw notFound(`index ${spec} (${path})`);
    } else {
      const name = spec.slice('video='.length);
      device = devices.find((d) => d.name === name || d.input === name);
      if (!device) throw notFound(`name "${name}"`);
    }
    return { kind: 'device', format, input: device.input, label: device.name };
  }

  if (format === 'avfoundation') {
    // avfoundation takes "VIDEO:AUDIO" by index or name; audio is never wanted.
    if (spec === 'auto') return { kind: 'device', format, input: '0:none', label: 'camera 0' };
    if (INDEX.test(spec)) return { kind: 'device', format, input: `${Number(spec)}:none`, label: `camera ${Number(spec)}` };
    if (spec.startsWith('video=')) {
      const name = spec.slice('video='.length);
      return { kind: 'device', format, input: `${name}:none`, label: name };
    }
    throw new SourceError(`camera device ${spec} is not usable on macOS; use an index, auto or video=NAME`);
  }

  // dshow only opens devices by name; indexes map through the listed devices.
  if (spec.startsWith('video=')) return { kind: 'device', format, input: spec, label: spec.slice('video='.length) };
  if (spec === 'auto' || INDEX.test(spec)) {
    const device = devices[spec === 'auto' ? 0 : Number(spec)];
    if (!device) throw notFound(spec === 'auto' ? 'auto' : `index ${spec}`);
    return { kind: 'device', format, input: `video=${device.name}`, label: device.name };
  }
  throw new SourceError(`camera device ${spec} is not usable on Windows; use an index, auto or video=NAME`);
}

/**
 * Turns a camera's URL into a resolved ffmpeg input. Throws SourceError with
 * a message meant for the camera's status (missing file, no device, …).
 */
export function resolveSource(camera: Pick<CameraConfig, 'url' | 'transport'>, env: SourceEnv = defaultSourceEnv()): ResolvedSource {
  const url = camera.url.trim();
  if (!url) throw new SourceError('camera url is empty');
  const kind = sourceKindOf(url);
  switch (kind) {
    case 'rtsp':
      return { kind, url, transport: camera.transport };
    case 'http': {
      const path = url.split(/[?#]/, 1)[0] ?? '';
      return { kind, url, hls: path.toLowerCase().endsWith('.m3u8') };
    }
    case 'lavfi': {
      const graph = url.slice('lavfi:'.length).trim();
      if (!graph) throw new SourceError('lavfi source has no filter graph (e.g. lavfi:testsrc2=size=1280x720:rate=25)');
      return { kind, graph };
    }
    case 'device':
      return resolveDevice(url, env);
    case 'file': {
      const scheme = SCHEME.exec(url)?.[1]?.toLowerCase();
      let path = url;
      if (scheme === 'file') {
        try {
          path = fileURLToPath(url);
        } catch {
          throw new SourceError(`camera url ${url} is not a valid file:// URL`);
        }
      } else if (scheme) {
        throw new SourceError(`camera url scheme ${scheme}:// is not supported; use rtsp://, rtsps://, http(s)://, a file path, a camera index, auto, video=NAME or lavfi:`);
      }
      // A Windows drive path is absolute there even though it does not look so here.
      const absolute = isAbsolute(path) || /^[a-z]:[\\/]/i.test(path) ? path : resolve(env.cwd, path);
      // The path as given: a resolved relative path would show the working directory.
      if (!env.fileExists(absolute)) throw new SourceError(`video file not found: ${url.length > 256 ? `${url.slice(0, 256)}…` : url}`);
      return { kind, path: absolute };
    }
  }
}

/** Sources that end by themselves; every other kind is live and an exit means reconnect. */
export function endsCleanly(source: ResolvedSource, camera: Pick<CameraConfig, 'loop'>): boolean {
  return source.kind === 'file' && !camera.loop;
}
