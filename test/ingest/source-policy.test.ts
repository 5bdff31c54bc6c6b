import { describe, expect, it } from 'vitest';
import { defaultConfig, type SourcesConfig } from '../../src/config/schema.js';
import { checkCameraSource, SourcePolicyError, type PolicyEnv, type SourceCheck } from '../../src/ingest/source-policy.js';

const OWN_PORT = 8000;
const DNS: Record<string, string[]> = {
  'cam.example.com': ['203.0.113.7'],
  'metadata.internal': ['169.254.169.254'],
  'sneaky.example.com': ['10.0.0.5', '169.254.10.1'],
  'v6meta.example.com': ['fd00:ec2::254'],
  'mapped.example.com': ['::ffff:169.254.169.254'],
  'localhost': ['127.0.0.1', '::1'],
};
const env: PolicyEnv = {
  resolveHost: async (host) => {
    const found = DNS[host];
    if (!found) throw new Error('ENOTFOUND');
    return found;
  },
  localAddresses: () => ['127.0.0.1', '::1', '192.168.1.50'],
  // /media/cams/link.mp4 is a symlink out of the allowed directory.
  realpath: (path) => (path === '/media/cams/link.mp4' ? '/etc/passwd' : path.startsWith('/media/cams') || path === '/etc/passwd' ? path : null),
};

function check(sources: Partial<SourcesConfig> = {}): SourceCheck {
  return { sources: { ...defaultConfig().sources, file_dirs: ['/media/cams'], ...sources }, ownPorts: [OWN_PORT] };
}

async function verdict(url: string, c = check()): Promise<string> {
  try {
    await checkCameraSource(url, c, env);
    return 'ok';
  } catch (err) {
    if (err instanceof SourcePolicyError) return err.message;
    throw err;
  }
}

describe('camera source policy', () => {
  const refused: [string, string, RegExp][] = [
    ['lavfi drawtext reading a file', 'lavfi:color=c=white:size=1280x720:rate=5,drawtext=textfile=/etc/passwd:fontsize=28', /lavfi/],
    ['lavfi psnr writing a file', 'lavfi:testsrc2=size=64x64:rate=5,split[a][b];[a][b]psnr=stats_file=/tmp/pwned.txt', /lavfi/],
    ['lavfi vidstabdetect', 'lavfi:testsrc2,vidstabdetect=result=/tmp/x.trf', /lavfi/],
    ['lavfi metadata print', 'lavfi:testsrc2,metadata=mode=print:file=/tmp/x', /lavfi/],
    ['lavfi sendcmd', 'lavfi:testsrc2,sendcmd=filename=/etc/passwd', /lavfi/],
    ['lavfi movie= SSRF', 'lavfi:movie=http\\\\://169.254.169.254/latest', /lavfi/],
    ['lavfi amovie=', 'LAVFI:amovie=/etc/passwd', /lavfi/],
    ['movie= as a path', 'movie=/etc/passwd', /sources\.file_dirs/],
    ['concat:', 'concat:/etc/passwd|/etc/hosts', /scheme "concat:" is not accepted/],
    ['subfile:', 'subfile,,start,0,end,0,,:/etc/passwd', /is not accepted|file_dirs/],
    ['subfile: scheme', 'subfile:/etc/passwd', /scheme "subfile:" is not accepted/],
    ['pipe:', 'pipe:0', /scheme "pipe:" is not accepted/],
    ['data:', 'data:text/plain;base64,aGVsbG8=', /scheme "data:" is not accepted/],
    ['tcp:', 'tcp://10.0.0.1:1234', /scheme "tcp:" is not accepted/],
    ['udp:', 'udp://10.0.0.1:1234', /scheme "udp:" is not accepted/],
    ['ftp:', 'ftp://host/x.mp4', /scheme "ftp:" is not accepted/],
    ['option injection', '-i /etc/passwd', /may not start with "-"/],
    ['file: outside the allowed dirs', 'file:///etc/passwd', /sources\.file_dirs/],
    ['path outside the allowed dirs', '/etc/passwd', /sources\.file_dirs/],
    ['missing path outside', '/root/secret/x.mp4', /sources\.file_dirs/],
    ['dot-dot escape', '/media/cams/../../etc/passwd', /sources\.file_dirs/],
    ['symlink escape', '/media/cams/link.mp4', /sources\.file_dirs/],
    ['relative path', 'clip.mp4', /sources\.file_dirs/],
    ['the allowed dir itself', '/media/cams', /sources\.file_dirs/],
    ['cloud metadata', 'http://169.254.169.254/latest/meta-data/', /link-local or cloud metadata/],
    ['link-local rtsp', 'rtsp://169.254.1.2/live', /link-local/],
    ['metadata by name', 'http://metadata.internal/', /link-local/],
    ['one bad address among several', 'rtsp://sneaky.example.com/live', /link-local/],
    ['IPv6 metadata', 'http://[fd00:ec2::254]/', /link-local/],
    ['IPv6 metadata by name', 'http://v6meta.example.com/', /link-local/],
    ['IPv4-mapped metadata', 'http://mapped.example.com/', /link-local/],
    ['IPv6 link-local', 'rtsp://[fe80::1]/live', /link-local/],
    ['the service itself', `http://127.0.0.1:${OWN_PORT}/predict`, /this service itself/],
    ['the service by name', `http://localhost:${OWN_PORT}/`, /this service itself/],
    ['the service on another loopback', `rtsp://127.0.0.2:${OWN_PORT}/x`, /this service itself/],
    ['the service on 0.0.0.0', `http://0.0.0.0:${OWN_PORT}/`, /this service itself/],
    ['the service on its LAN address', `http://192.168.1.50:${OWN_PORT}/`, /this service itself/],
    ['unresolvable host', 'rtsp://no-such-host.invalid/live', /does not resolve/],
    ['control characters', 'rtsp://cam.example.com/live\r\nX: y', /control characters/],
    ['overlong url', `rtsp://cam.example.com/${'a'.repeat(100 * 1024)}`, /too long \(\d+ characters; at most 2048\)/],
    ['/dev/ other than video', '/dev/sda', /only \/dev\/videoN/],
  ];
  it.each(refused)('refuses %s', async (_name, url, reason) => {
    expect(await verdict(url)).toMatch(reason);
  });

  const allowed = [
    'rtsp://user:pa55@cam.example.com:554/stream1',
    'rtsps://cam.example.com/stream1',
    'http://cam.example.com/mjpeg',
    'https://cam.example.com/live.m3u8',
    'rtsp://127.0.0.1:8554/live', // another service on loopback is a camera like any other
    'rtsp://localhost:8554/live',
    '/media/cams/lobby.mp4',
    '/media/cams/missing.mp4', // inside the allowed directory: the camera's status reports it
    'file:///media/cams/lobby.mp4',
    '0',
    'auto',
    'video=USB Camera',
    '/dev/video0',
  ];
  it.each(allowed)('allows %s', async (url) => {
    expect(await verdict(url)).toBe('ok');
  });

  it('says the same thing whether a path exists or not, and never echoes the working directory', async () => {
    const exists = await verdict('/etc/passwd');
    const missing = await verdict('/root/secret/x.mp4');
    expect(exists).toBe(missing);
    expect(await verdict('some/relative/clip.mp4')).toBe(missing);
    expect(missing).not.toContain(process.cwd());
  });

  it('honours allowed_schemes and allowed_hosts', async () => {
    expect(await verdict('http://cam.example.com/x', check({ allowed_schemes: ['rtsp'] }))).toMatch(/"http" are not allowed here; allowed: rtsp/);
    expect(await verdict('/media/cams/a.mp4', check({ allowed_schemes: ['rtsp'] }))).toMatch(/"file" are not allowed/);
    expect(await verdict('0', check({ allowed_schemes: ['rtsp'] }))).toMatch(/"device" are not allowed/);
    const hosts = check({ allowed_hosts: ['*.example.com', '10.0.0.9'] });
    expect(await verdict('rtsp://cam.example.com/x', hosts)).toBe('ok');
    expect(await verdict('rtsp://10.0.0.9/x', hosts)).toBe('ok');
    expect(await verdict('rtsp://example.com.evil.net/x', hosts)).toMatch(/not in sources\.allowed_hosts/);
    expect(await verdict('rtsp://10.0.0.10/x', hosts)).toMatch(/not in sources\.allowed_hosts/);
    // The allow-list does not lift the metadata rule.
    expect(await verdict('http://metadata.internal/', check({ allowed_hosts: ['metadata.internal'] }))).toMatch(/link-local/);
  });

  it('echoes at most a short, escaped, redacted prefix', async () => {
    const message = await verdict(`gopher\u202e${'x'.repeat(10_000)}://h`);
    expect(message.length).toBeLessThan(300);
    const scheme = await verdict(`zz${'y'.repeat(5000)}:rest`);
    expect(scheme.length).toBeLessThan(300);
    const bad = await verdict('rtsp://admin:hunter2@');
    expect(bad).not.toContain('hunter2');
  });
});
