import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  endsCleanly,
  listLinuxVideoDevices,
  parseDshowDevices,
  resolveSource,
  SourceError,
  sourceKindOf,
  type SourceEnv,
  type VideoDevice,
} from '../../src/ingest/source.js';

function env(platform: SourceEnv['platform'], devices: VideoDevice[] = [], files: string[] = []): SourceEnv {
  return { platform, listDevices: () => devices, fileExists: (p) => files.includes(p) || devices.some((d) => d.input === p), cwd: '/srv/app' };
}
const cam = (url: string, transport: 'tcp' | 'udp' = 'tcp') => ({ url, transport });

describe('resolveSource', () => {
  it('keeps RTSP URLs with the camera transport (TCP default, UDP selectable)', () => {
    expect(resolveSource(cam('rtsp://10.0.0.5:554/stream1'), env('linux'))).toEqual({ kind: 'rtsp', url: 'rtsp://10.0.0.5:554/stream1', transport: 'tcp' });
    expect(resolveSource(cam('rtsps://cam.local/live', 'udp'), env('linux'))).toEqual({ kind: 'rtsp', url: 'rtsps://cam.local/live', transport: 'udp' });
    expect(resolveSource(cam('RTSP://HOST/x'), env('linux')).kind).toBe('rtsp');
  });

  it('tells HLS playlists from other HTTP streams', () => {
    expect(resolveSource(cam('https://cdn.example/live/index.m3u8?token=1'), env('linux'))).toEqual({ kind: 'http', url: 'https://cdn.example/live/index.m3u8?token=1', hls: true });
    expect(resolveSource(cam('http://cam.local/video.mjpg'), env('linux'))).toEqual({ kind: 'http', url: 'http://cam.local/video.mjpg', hls: false });
  });

  it('resolves file paths and file:// URLs, relative to the working directory', () => {
    const e = env('linux', [], ['/srv/app/clips/a.mp4', '/data/b b.mp4']);
    expect(resolveSource(cam('clips/a.mp4'), e)).toEqual({ kind: 'file', path: '/srv/app/clips/a.mp4' });
    expect(resolveSource(cam('file:///data/b%20b.mp4'), e)).toEqual({ kind: 'file', path: '/data/b b.mp4' });
  });

  it('gives a clear error for a missing file and for unsupported schemes', () => {
    expect(() => resolveSource(cam('/nope/clip.mp4'), env('linux'))).toThrow(new SourceError('video file not found: /nope/clip.mp4'));
    expect(() => resolveSource(cam('rtmp://host/app'), env('linux'))).toThrow(/scheme rtmp:\/\/ is not supported/);
    expect(() => resolveSource(cam('  '), env('linux'))).toThrow(/empty/);
  });

  it('passes lavfi graphs through and rejects an empty one', () => {
    expect(resolveSource(cam('lavfi:testsrc2=size=1280x720:rate=25'), env('linux'))).toEqual({ kind: 'lavfi', graph: 'testsrc2=size=1280x720:rate=25' });
    expect(() => resolveSource(cam('lavfi:'), env('linux'))).toThrow(/no filter graph/);
  });

  describe('devices on Linux (v4l2)', () => {
    const devices = [
      { input: '/dev/video0', name: 'Integrated Camera' },
      { input: '/dev/video2', name: 'USB Cam' },
    ];
    it('auto picks the first device, indexes map to /dev/videoN, names come from the device list', () => {
      expect(resolveSource(cam('auto'), env('linux', devices))).toEqual({ kind: 'device', format: 'v4l2', input: '/dev/video0', label: 'Integrated Camera' });
      expect(resolveSource(cam('2'), env('linux', devices))).toMatchObject({ format: 'v4l2', input: '/dev/video2' });
      expect(resolveSource(cam('video=USB Cam'), env('linux', devices))).toMatchObject({ input: '/dev/video2', label: 'USB Cam' });
      expect(resolveSource(cam('/dev/video0'), env('linux', devices))).toMatchObject({ input: '/dev/video0' });
    });
    it('explains what it looked for when there is no device', () => {
      expect(() => resolveSource(cam('auto'), env('linux'))).toThrow('no camera device found (looked for /dev/video*)');
      expect(() => resolveSource(cam('1'), env('linux', devices))).toThrow('no camera device found for index 1 (/dev/video1) (looked for /dev/video*; found /dev/video0, /dev/video2)');
      expect(() => resolveSource(cam('video=Other'), env('linux', devices))).toThrow(/no camera device found for name "Other"/);
      expect(() => resolveSource(cam('/dev/video9'), env('linux'))).toThrow('camera device /dev/video9 does not exist');
    });
  });

  describe('devices on Windows (dshow)', () => {
    const devices = [{ input: 'Integrated Webcam', name: 'Integrated Webcam' }, { input: 'OBS Virtual Camera', name: 'OBS Virtual Camera' }];
    it('opens by name; indexes and auto go through the device list', () => {
      expect(resolveSource(cam('video=Logitech C920'), env('win32'))).toEqual({ kind: 'device', format: 'dshow', input: 'video=Logitech C920', label: 'Logitech C920' });
      expect(resolveSource(cam('1'), env('win32', devices))).toMatchObject({ format: 'dshow', input: 'video=OBS Virtual Camera' });
      expect(resolveSource(cam('auto'), env('win32', devices))).toMatchObject({ input: 'video=Integrated Webcam' });
      expect(() => resolveSource(cam('auto'), env('win32'))).toThrow(/no camera device found for auto \(dshow lists none; name the camera as video=NAME\)/);
    });
  });

  describe('devices on macOS (avfoundation)', () => {
    it('opens by index or name with audio disabled', () => {
      expect(resolveSource(cam('auto'), env('darwin'))).toEqual({ kind: 'device', format: 'avfoundation', input: '0:none', label: 'camera 0' });
      expect(resolveSource(cam('1'), env('darwin'))).toMatchObject({ input: '1:none' });
      expect(resolveSource(cam('video=FaceTime HD Camera'), env('darwin'))).toMatchObject({ input: 'FaceTime HD Camera:none' });
      expect(() => resolveSource(cam('/dev/video0'), env('darwin'))).toThrow(/not usable on macOS/);
    });
  });
});

describe('sourceKindOf and endsCleanly', () => {
  it('classifies without touching the file system', () => {
    expect(['rtsp://a', 'https://b/x.m3u8', 'lavfi:color', 'auto', '0', 'video=X', '/dev/video1', 'clip.mp4', 'file:///x.mp4'].map(sourceKindOf)).toEqual([
      'rtsp', 'http', 'lavfi', 'device', 'device', 'device', 'device', 'file', 'file',
    ]);
  });
  it('only a non-looping file ends cleanly', () => {
    expect(endsCleanly({ kind: 'file', path: '/a.mp4' }, { loop: false })).toBe(true);
    expect(endsCleanly({ kind: 'file', path: '/a.mp4' }, { loop: true })).toBe(false);
    expect(endsCleanly({ kind: 'rtsp', url: 'rtsp://x', transport: 'tcp' }, { loop: false })).toBe(false);
    expect(endsCleanly({ kind: 'lavfi', graph: 'color' }, { loop: false })).toBe(false);
  });
});

describe('listLinuxVideoDevices', () => {
  it('lists /dev/videoN in numeric order with sysfs names when present', () => {
    const root = mkdtempSync(join(tmpdir(), 'v4l-'));
    mkdirSync(join(root, 'dev'));
    for (const n of ['video10', 'video2', 'video0', 'vhost-net']) writeFileSync(join(root, 'dev', n), '');
    mkdirSync(join(root, 'sys', 'video2'), { recursive: true });
    writeFileSync(join(root, 'sys', 'video2', 'name'), 'USB Cam\n');
    expect(listLinuxVideoDevices(join(root, 'dev'), join(root, 'sys'))).toEqual([
      { input: join(root, 'dev', 'video0'), name: 'video0' },
      { input: join(root, 'dev', 'video2'), name: 'USB Cam' },
      { input: join(root, 'dev', 'video10'), name: 'video10' },
    ]);
    expect(listLinuxVideoDevices(join(root, 'missing'))).toEqual([]);
  });
});

describe('parseDshowDevices', () => {
  it('reads video devices from ffmpeg 5 style listings (tagged per device)', () => {
    const out = [
      '[dshow @ 000001d8] "Integrated Webcam" (video)',
      '[dshow @ 000001d8]   Alternative name "@device_pnp_\\\\?\\usb#vid_0bda"',
      '[dshow @ 000001d8] "Microphone (Realtek Audio)" (audio)',
      '[dshow @ 000001d8] "OBS Virtual Camera" (video)',
      'dummy: Immediate exit requested',
    ].join('\r\n');
    expect(parseDshowDevices(out).map((d) => d.name)).toEqual(['Integrated Webcam', 'OBS Virtual Camera']);
  });

  it('reads ffmpeg 4 style listings (grouped under headings)', () => {
    const out = [
      '[dshow @ 0000] DirectShow video devices (some may be both video and audio devices)',
      '[dshow @ 0000]  "USB2.0 HD UVC WebCam"',
      '[dshow @ 0000]     Alternative name "@device_pnp_x"',
      '[dshow @ 0000] DirectShow audio devices',
      '[dshow @ 0000]  "Microphone"',
    ].join('\n');
    expect(parseDshowDevices(out)).toEqual([{ input: 'USB2.0 HD UVC WebCam', name: 'USB2.0 HD UVC WebCam' }]);
  });
});
