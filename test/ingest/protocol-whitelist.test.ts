import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFfmpegArgs } from '../../src/ingest/ffmpeg-args.js';
import { protocolWhitelistArgs } from '../../src/ingest/protocol-whitelist.js';
import type { ResolvedSource } from '../../src/ingest/source.js';

let server: Server;
let port = 0;
const hits: string[] = [];
const dir = mkdtempSync(join(tmpdir(), 'whitelist-'));
const canary = join(dir, 'canary.ts');
writeFileSync(canary, 'not a video');

beforeAll(async () => {
  server = createServer((req, res) => {
    hits.push(req.url ?? '');
    if (req.url === '/local.m3u8') {
      // A playlist on an allowed host that points ffmpeg at a local file.
      res.writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl' });
      res.end(`#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nfile://${canary}\n#EXT-X-ENDLIST\n`);
    } else if (req.url === '/redirect') {
      res.writeHead(302, { location: `http://127.0.0.1:${port}/elsewhere` });
      res.end();
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});
afterAll(() => server.close());

/** Runs ffmpeg asynchronously: the HTTP server it talks to lives in this process. */
function run(source: ResolvedSource): Promise<string> {
  const args = [...protocolWhitelistArgs(source), '-rw_timeout', '5000000', '-i', source.kind === 'http' ? source.url : '', '-t', '0.1', '-f', 'null', '-'];
  const child = spawn('ffmpeg', ['-hide_banner', '-nostdin', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.on('close', () => resolve(stderr)));
}

describe('protocol whitelist', () => {
  it('pins each kind of source to its own protocols', () => {
    expect(protocolWhitelistArgs({ kind: 'rtsp', url: 'rtsp://h/s', transport: 'tcp' })).toEqual(['-protocol_whitelist', 'rtsp,tcp,udp,rtp']);
    expect(protocolWhitelistArgs({ kind: 'rtsp', url: 'rtsps://h/s', transport: 'tcp' })[1]).toContain('tls');
    expect(protocolWhitelistArgs({ kind: 'http', url: 'http://h/v', hls: false })).toEqual(['-protocol_whitelist', 'http,tcp', '-max_redirects', '0']);
    expect(protocolWhitelistArgs({ kind: 'http', url: 'https://h/v.m3u8', hls: true })[1]).toBe('https,tls,tcp,crypto');
    expect(protocolWhitelistArgs({ kind: 'file', path: '/m/a.mp4' })).toEqual(['-protocol_whitelist', 'file']);
    expect(protocolWhitelistArgs({ kind: 'device', format: 'v4l2', input: '/dev/video0', label: 'c' })).toEqual([]);
    // In the full argv the whitelist comes before the input it guards.
    const argv = buildFfmpegArgs({ source: { kind: 'file', path: '/m/a.mp4' }, camera: { fps: 5, loop: false, realtime: false }, defaultFps: 5, output: 'original' });
    expect(argv.indexOf('-protocol_whitelist')).toBeLessThan(argv.indexOf('-i'));
  });

  it('a playlist on an allowed host cannot make ffmpeg read a local file (real ffmpeg)', async () => {
    const stderr = await run({ kind: 'http', url: `http://127.0.0.1:${port}/local.m3u8`, hls: true });
    expect(hits).toContain('/local.m3u8');
    expect(stderr).toMatch(/Protocol 'file' not on whitelist/);
  }, 30_000);

  it('an allowed host cannot redirect ffmpeg elsewhere (real ffmpeg)', async () => {
    await run({ kind: 'http', url: `http://127.0.0.1:${port}/redirect`, hls: false });
    expect(hits).toContain('/redirect');
    expect(hits).not.toContain('/elsewhere');
  }, 30_000);
});
