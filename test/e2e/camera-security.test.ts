/**
 * Camera sources and credentials through the whole service, with real
 * ffmpeg, a real RTSP server and a real S3-protocol server:
 * - every refused form (lavfi graphs that read or write files, movie=,
 *   ffmpeg protocols, SSRF targets, path probes) gets a 400 and nothing is
 *   read or written (a canary file's contents and atime, no new files);
 * - a camera password appears in no API answer, log line, metric, capture
 *   JSON or uploaded S3 object;
 * - the camera limit and fps limit refuse clearly, and an API camera that
 *   gives up retrying stops counting.
 */
import { existsSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type RunningService } from '../../src/app/service.js';
import { listFiles, removeDir, tempDir, TestS3, waitUntil } from '../capture/support.js';
import { RtspTestServer } from '../helpers/rtsp.js';
import { PROJECT_ROOT, SLIDESHOW_360P, testConfig, withModelFiles } from '../helpers/service.js';

const PASSWORD = 'Zq9-sEcReT-p4ss';
const CANARY_TEXT = 'canary: nobody may read me\n';

let rtsp: RtspTestServer;
let s3: TestS3;
let svc: RunningService;
let base = '';
let captureDir = '';
let store = '';
let canaryDir = '';
let canary = '';
const logLines: string[] = [];
const answers: string[] = [];
let cwdBefore: string[] = [];

/** Sends a request and keeps its answer for the password grep. */
async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: { error?: { code: string; message: string } } & Record<string, unknown> }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const headers: string[] = [];
  res.headers.forEach((value, key) => headers.push(`${key}: ${value}`));
  answers.push(`${method} ${path} → ${res.status}\n${headers.join('\n')}\n${text}`);
  return { status: res.status, json: text.startsWith('{') ? JSON.parse(text) : {} };
}

async function cameraState(id: string): Promise<{ state: string; last_error: string | null } | undefined> {
  const { json } = await call('GET', '/cameras');
  return (json.cameras as { id: string; state: string; last_error: string | null }[]).find((c) => c.id === id);
}

beforeAll(async () => {
  rtsp = await RtspTestServer.start('test', '320x240');
  captureDir = await tempDir('security');
  store = await tempDir('security-s3');
  canaryDir = await tempDir('security-canary');
  canary = join(canaryDir, 'canary.txt');
  writeFileSync(canary, CANARY_TEXT);
  // atime well before mtime: under relatime any read would move it.
  const now = Date.now() / 1000;
  utimesSync(canary, now - 3600, now);
  s3 = new TestS3(store, 'captures');
  await s3.start();
  cwdBefore = readdirSync(process.cwd()).sort();

  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(...chunk.toString().split('\n').filter((l) => l !== ''));
      done();
    },
  });
  const config = await withModelFiles(
    testConfig({
      log_level: 'debug',
      streams: { max_cameras: 3, max_fps: 30, api_camera_max_failures: 2, reconnect: { initial_ms: 100, max_ms: 200, multiplier: 2, jitter: 0, reset_after_ms: 60_000 } },
      sources: { allowed_schemes: ['rtsp', 'rtsps', 'http', 'https', 'file', 'device'], file_dirs: [dirname(SLIDESHOW_360P)], allowed_hosts: [], check_config_cameras: false },
      capture: {
        inference: true,
        dir: captureDir,
        every_n: 1,
        max_side: 160,
        s3: { bucket: 'captures', prefix: 'sec', region: 'us-east-1', endpoint: s3.endpoint, force_path_style: true, access_key_id: 'S3RVER', secret_access_key: 'S3RVER', concurrency: 2, max_retries: 0, delete_after_upload: false },
      } as never,
    }),
  );
  svc = await startService(config, { projectRoot: PROJECT_ROOT, log: pino({ level: 'debug' }, sink) });
  base = `http://127.0.0.1:${svc.port}`;
}, 120_000);

afterAll(async () => {
  await svc?.stop();
  await s3?.stop();
  rtsp?.signal('SIGTERM');
  for (const dir of [captureDir, store, canaryDir]) if (dir) await removeDir(dir);
});

describe('camera source policy through the API', () => {
  const refused = (): [string, string][] => [
    ['lavfi drawtext textfile', `lavfi:color=c=white:size=1280x720:rate=5,drawtext=textfile=${canary}:fontsize=28:x=10:y=10`],
    ['lavfi psnr stats_file', `lavfi:testsrc2=size=64x64:rate=5,split[a][b];[a][b]psnr=stats_file=${canaryDir}/pwned.txt`],
    ['lavfi vidstabdetect result', `lavfi:testsrc2=size=64x64:rate=5,vidstabdetect=result=${canaryDir}/pwned.trf`],
    ['lavfi metadata print file', `lavfi:testsrc2=size=64x64:rate=5,metadata=mode=print:file=${canaryDir}/pwned.log`],
    ['lavfi sendcmd filename', `lavfi:testsrc2=size=64x64:rate=5,sendcmd=filename=${canary}`],
    ['lavfi movie= URL', `lavfi:movie=http\\\\://127.0.0.1\\\\:${svc.port}/health`],
    ['lavfi amovie= file', `lavfi:amovie=${canary}`],
    ['movie= without lavfi', `movie=${canary}`],
    ['SSRF: the service itself', `http://127.0.0.1:${svc.port}/health`],
    ['SSRF: the service over rtsp', `rtsp://127.0.0.1:${svc.port}/live`],
    ['SSRF: cloud metadata', 'http://169.254.169.254/latest/meta-data/iam/security-credentials/'],
    ['SSRF: metadata over IPv6', 'http://[fd00:ec2::254]/latest/meta-data/'],
    ['path probe: the canary', canary],
    ['path probe: missing file', '/root/secret/x.mp4'],
    ['path probe: relative', 'package.json'],
    ['path probe: file URL', `file://${canary}`],
    ['concat:', `concat:${canary}|${canary}`],
    ['subfile:', `subfile,,start,0,end,0,,:${canary}`],
    ['pipe:', 'pipe:0'],
    ['data:', 'data:text/plain;base64,aGVsbG8='],
    ['tcp:', 'tcp://127.0.0.1:9'],
    ['udp:', 'udp://127.0.0.1:9'],
    ['ftp: with a password', `ftp://admin:${PASSWORD}@127.0.0.1/x.mp4`],
    ['option injection', `-i ${canary}`],
  ];

  it('refuses every form with 400 and a reason, and reads or writes nothing', async () => {
    for (const [name, url] of refused()) {
      const { status, json } = await call('POST', '/cameras', { id: 'probe', url, fps: 2 });
      expect({ name, status, code: json.error?.code }).toEqual({ name, status: 400, code: 'source_not_allowed' });
      expect(json.error?.message.length).toBeLessThan(300);
      expect(json.error?.message).not.toContain(process.cwd());
    }
    // The same answer whether a probed path exists or not.
    const exists = (await call('POST', '/cameras', { id: 'probe', url: canary })).json.error?.message;
    const missing = (await call('POST', '/cameras', { id: 'probe', url: join(canaryDir, 'nope.txt') })).json.error?.message;
    expect(exists).toBe(missing);
    expect(await cameraState('probe')).toBeUndefined();
  });

  it('echoes at most a short prefix of an oversized id or url', async () => {
    const id = await call('POST', '/cameras', { id: 'i'.repeat(10_000), url: rtsp.url });
    expect(id.status).toBe(400);
    expect(id.json.error?.message.length).toBeLessThan(300);
    const url = await call('POST', '/cameras', { id: 'long', url: `/${'p'.repeat(60 * 1024)}` });
    expect(url.status).toBe(400);
    expect(url.json.error?.message.length).toBeLessThan(300);
    const path = await call('DELETE', `/cameras/${'d'.repeat(3000)}`);
    expect(path.status).toBe(404);
    expect(path.json.error?.message.length).toBeLessThan(300);
  });

  it('still starts the allowed kinds: RTSP with credentials, and a file below sources.file_dirs', async () => {
    expect((await call('POST', '/cameras', { id: 'secure', url: rtsp.url.replace('rtsp://', `rtsp://admin:${PASSWORD}@`), fps: 2 })).status).toBe(201);
    expect((await call('POST', '/cameras', { id: 'clip', url: SLIDESHOW_360P, fps: 2 })).status).toBe(201);
    await waitUntil('both cameras streaming', async () => (await cameraState('secure'))?.state === 'streaming' && (await cameraState('clip'))?.state === 'streaming', 60_000);
  }, 90_000);

  it('refuses fps over streams.max_fps and cameras over streams.max_cameras, saying the limit', async () => {
    const fast = await call('POST', '/cameras', { id: 'fast', url: SLIDESHOW_360P, fps: 240 });
    expect(fast.status).toBe(400);
    expect(fast.json.error?.message).toMatch(/streams\.max_fps/);
    expect((await call('POST', '/cameras', { id: 'clip2', url: SLIDESHOW_360P, fps: 2 })).status).toBe(201);
    const full = await call('POST', '/cameras', { id: 'broken', url: `rtsp://admin:${PASSWORD}@127.0.0.1:9/live` });
    expect(full.status).toBe(503);
    expect(full.json.error?.message).toMatch(/camera limit reached.*: 3 of 3 .*streams\.max_cameras/);
    expect((await call('GET', '/cameras')).json.limits).toEqual({ max_cameras: 3, active_cameras: 3, max_fps: 30 });
  });

  it('an API camera that keeps failing gives up and frees its slot, and stays listed', async () => {
    expect((await call('DELETE', '/cameras/clip2')).status).toBe(204);
    // Loopback, but not this service: a camera like any other, here one that refuses connections.
    expect((await call('POST', '/cameras', { id: 'broken', url: `rtsp://admin:${PASSWORD}@127.0.0.1:9/live` })).status).toBe(201);
    await waitUntil('broken camera gave up', async () => /gave up after 2 failures/.test((await cameraState('broken'))?.last_error ?? ''), 60_000);
    expect((await cameraState('broken'))?.state).toBe('error');
    // The slot is freed once its decoder has stopped, just after the give-up is reported: wait for it, bounded.
    await waitUntil('slot freed', async () => ((await call('GET', '/cameras')).json.limits as { active_cameras?: number } | undefined)?.active_cameras === 2, 30_000);
    expect((await call('GET', '/cameras')).json.limits).toMatchObject({ active_cameras: 2 });
    expect((await call('POST', '/cameras', { id: 'clip3', url: SLIDESHOW_360P, fps: 2 })).status).toBe(201);
    expect((await call('DELETE', '/cameras/clip3')).status).toBe(204);
  }, 90_000);

  it('read and wrote nothing it was not allowed to', () => {
    // atime first: reading the contents here moves it.
    const st = statSync(canary);
    expect(st.atimeMs).toBeLessThan(st.mtimeMs);
    expect(readFileSync(canary, 'utf8')).toBe(CANARY_TEXT);
    expect(readdirSync(canaryDir)).toEqual(['canary.txt']);
    expect(readdirSync(process.cwd()).sort()).toEqual(cwdBefore);
    expect(existsSync('/tmp/pwned.txt')).toBe(false);
  });
});

describe('the camera password never leaves', () => {
  it('appears in no API answer, log line, metric, capture JSON or S3 object', async () => {
    const client = new S3Client({ endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    let objects: string[] = [];
    const readBucket = async (): Promise<string[]> => {
      const listed = await client.send(new ListObjectsV2Command({ Bucket: 'captures' }));
      const keys = (listed.Contents ?? []).map((o) => o.Key as string);
      return Promise.all(keys.map(async (Key) => (await client.send(new GetObjectCommand({ Bucket: 'captures', Key }))).Body!.transformToString('latin1')));
    };
    // A capture of the password-protected camera, uploaded.
    await waitUntil('a capture of the secure camera in the bucket', async () => {
      objects = await readBucket();
      return objects.some((o) => /"camera_id":\s*"secure"/.test(o));
    }, 90_000);
    client.destroy();
    await waitUntil('ffmpeg complained about the broken camera', () => logLines.some((l) => l.includes('"camera":"broken"') && l.includes('ffmpeg')), 30_000);

    for (const path of ['/cameras', '/health', '/health/stream', '/metrics', '/cameras/secure/preview.jpg']) await call('GET', path);
    const secure = (await call('GET', '/cameras')).json.cameras as { id: string; url: string }[];
    expect(secure.find((c) => c.id === 'secure')?.url).toBe(rtsp.url.replace('rtsp://', 'rtsp://admin:***@'));

    const captures = (await listFiles(captureDir)).filter((f) => f.endsWith('.json'));
    expect(captures.length).toBeGreaterThan(0);
    const captureTexts = await Promise.all(captures.map((f) => readFile(join(captureDir, f), 'utf8')));
    expect(captureTexts.some((text) => text.includes('rtsp://admin:***@'))).toBe(true);


    const haystacks: [string, string[]][] = [
      ['API answers', answers],
      ['log lines', logLines],
      ['capture files', captureTexts],
      ['S3 objects', objects],
    ];
    for (const [where, texts] of haystacks) {
      expect({ where, hits: texts.filter((t) => t.includes(PASSWORD) || t.includes(encodeURIComponent(PASSWORD))).length }).toEqual({ where, hits: 0 });
    }
    // The logs did carry the camera's URL and ffmpeg's complaints: redacted, not absent.
    expect(logLines.join('\n')).toMatch(/admin:\*\*\*@/);
  }, 180_000);
});
