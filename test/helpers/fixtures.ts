/**
 * Test fixtures (real models, COCO photos, slideshow clips): the shared
 * development copies in ../shared when present, otherwise fetched once into
 * .cache/fixtures — models and photos downloaded and verified against the
 * sha256 of our copies below, the slideshows generated from the photos.
 *
 * FIXTURES_SHARED_DIR (default <root>/../shared) and FIXTURES_CACHE_DIR
 * (default <root>/.cache/fixtures) move the two places, e.g. to simulate a
 * machine without ../shared; FIXTURES_DOWNLOAD_TIMEOUT_MS bounds each download.
 * FIXTURES_MIRROR (e.g. http://127.0.0.1:8080) fetches every upstream URL
 * from a mirror instead, as <mirror>/<host>/<path> — an internal cache for an
 * offline CI, and how the resolver itself is tested on loopback.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { findOnPath, resolveFfmpegPath } from '../../src/ingest/ffmpeg-path.js';
import { downloadVerified } from '../../src/models/download.js';
import { fetchItems } from '../../src/models/fetch.js';
import { loadManifest } from '../../src/models/manifest.js';
import { projectRoot } from '../../src/models/paths.js';
import { sha256File } from '../../src/models/sha256.js';

export type FixtureKind = 'model' | 'coco' | 'media';

/** sha256 of every file in ../shared (models/, media/coco/, media/), computed from our copies. */
export const FIXTURE_SHA256: Readonly<Record<string, string>> = {
  'model/coco_labels.txt': '634a1132eb33f8091d60f2c346ababe8b905ae08387037aed883953b7329af84',
  'model/imagenet_labels.json': '8a6e56677bf4a5e24598bdbb7374b7f3024c55b528023a2cc2beb6ef302c8fb6',
  'model/mobilenetv2-12-int8.onnx': '83530ad811bc31d2b60a5599a21265a5057608c9b044b4ee758cc22f2309f54f',
  'model/yolox_nano.onnx': '695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14',
  'coco/000000000139.jpg': 'ffe0f0cec3b2e27aab1967229cdf0a0d7751dcdd5800322f0b8ac0dffb3b8a8d',
  'coco/000000000632.jpg': 'a4cd7f45ac1ce27eaafb254b23af7c0b18a064be08870ceaaf03b2147f2ce550',
  'coco/000000000776.jpg': '1dd31e9059c491992be2f562624eb4093e17aee08b4f7baf5ff9ea24543b0a33',
  'coco/000000000802.jpg': 'd5b79e7fa716f85ca86f46e5f518da9b6c5e26414925624d76e6476861aec495',
  'coco/000000000885.jpg': '1c67b783f78b18ddb5dd20aaba4d4aacaf98e5277051688a96da096afa9cdf1f',
  'coco/000000001268.jpg': '8e85a2e71ee512fe748a3a3be9bb40b8591e8c501c0f3896efcb5be5999ec236',
  'coco/000000001353.jpg': '1cccef217a1e5eec2acc74d7c08a105da3ef6fdb8514e221cdea9b0b373b60ea',
  'coco/000000001490.jpg': 'a044804a0b0186a1267acae34975932f14ede96c4a2b78fcee74e6c2fbd8414d',
  'coco/000000001532.jpg': '974f2af6d81f65627a680ea9f42bdee1067a0ddcdb9f8e7a945bacd21d4dc2ce',
  'coco/000000001675.jpg': '6ba641627c08ef424b7dc3e6cee069aa0dd49615a31c54ae0de1ecd1fabd9dea',
  'coco/000000001818.jpg': 'e638b349929d13bb27e148f4303a576e0a964ef81c0907d36748e0adb822a8e6',
  'coco/000000002006.jpg': 'eda4af13818b566f8fa4f479e76286ad90cd5da2e8dfd530be0ab3637e1482ed',
  'coco/000000002153.jpg': '8795ff243cf20405bd442631d5d1cb7e60665dd459c8d57f5764333808dd49fd',
  'coco/000000002261.jpg': '1a0ad595a5675bdc7a5e95c04def56109c00d61168fd826158322fd538d70279',
  'coco/000000002431.jpg': 'fa0ce7b066c2fe7bd0892aa2c6361943148db9766de60241e69d8026a18e05ad',
  'coco/000000002532.jpg': 'fc017f5308d348bdb6011f2312b10853ccd780a4a7369f48774ef67f499f2e77',
  'coco/000000002592.jpg': 'ffa3d472d44184b1f48878f7b097189723e57a24f36c44c29e4bc561110fbf41',
  'coco/000000002923.jpg': '46d2a5feb3f953b59316daee47b45332f07ebde1f88eb361f29b35c1fbbb62e0',
  'coco/000000003255.jpg': 'c075f51a798e65d23e1c65a3fcc7736aeae4e03fbdd126f6d6b82cb07957d28b',
  'coco/000000003553.jpg': '4286197d2b6fc18809a37a4ef3035109509fcf52782fb83894835faaa5743bea',
  'coco/000000003845.jpg': 'd5c4394c712e5c24586f2531e2adf25d14e398993cc12af561ca760f20881df0',
  'coco/000000004134.jpg': '2c922f6ec30f9c4eca2b373c8808f63979c26f4d89242754b3576bf78db1108b',
  'coco/000000004495.jpg': 'cf670ca35fb16e59ecce82eecf9bf1f60d2ee333be81b61c4ea390be2c7e7b2b',
  'coco/000000004795.jpg': '6f8994bac6aef0602d4aa4397ecd4b7d579f5b18f66058a2df021352dd22bdc6',
  'coco/000000005037.jpg': 'b47318f2a6f652027f6435c462fae0567d925f67ab3279d08d5da2f322322dda',
  'coco/000000005193.jpg': '2f0360e89d71b146cbfaee05e934303864fa61d9bf1a1f5cc0c2e508b8191b8d',
  'coco/000000005503.jpg': 'ff95bf5ddb4bdbd7f4f0f96d963cd941a0a2b38cfcf7832f25113e8441a443c6',
  'coco/000000005586.jpg': 'd7c4ce5acc9c578c41ff04aa60e610423e304e66b77fff92df501c207460b349',
  'coco/000000005992.jpg': 'c33842fbbd9626843b93ede50dd4908221cb0c9bf9837f58861354eec2a4ec56',
  'coco/000000006040.jpg': 'ac74264bbc3356e0cb87cdc2edac2e2f7e519ae2c16b0a4e2b943a695163ebf6',
  'coco/000000006460.jpg': '2526fc01ddf5bef5c5e6e1f665d63b6bc95d8ec14eab286dc080e95f9a3642cd',
  'coco/000000006614.jpg': '5c4214d0503ea4ad699298cdca84ab631496d58d0ccdc4f6bafba9553fe067c6',
  'coco/000000006763.jpg': 'e3d8430df8ae6fd8021ca48ce988bcb8a1ae648be8bd3b73b1f0cc9c37f82484',
  'coco/000000006818.jpg': '99479f61ef2931ea70e161db0859e8706c6e48f13e8cb0798959f52433b01b98',
  'coco/000000006954.jpg': '59471a9bed5c28ac2f3ad56af1799340d6acb90f7c87d1f60360d1a9466e89ea',
  'coco/000000007108.jpg': 'fe22617b02d85f3d180db14af3c300e95d259ae81035452a03f57b79e056fb78',
  'coco/000000007281.jpg': '57f3508e600d3370320487dde8665f208f11612a11caac0801c7f5fc19188ac3',
  'coco/000000007511.jpg': '105e70c573b87d7e3f034e1dc08cedcced39be4e52197139f52616c920dda3d7',
  'coco/000000007784.jpg': '2b472f58ae604977c3c288320aed7fa8823043758e1b40b9cede91921d7154eb',
  'coco/000000007816.jpg': '00132e042709fc7a66797374a42ff72d493a945d01afe2a48e5a526116a2aabe',
  'coco/000000007888.jpg': '7c735e89b3699afc510053412ddea8e0370a1a5a2c9096713a5b255567747442',
  'coco/000000007991.jpg': '63c6fae2e3defd4bc1c6f346806aef03eb11ccbd7c6bda3e479d1fbafd486db1',
  'coco/000000008211.jpg': '8a52b7177994a207b4f463d591c3c0f1ffd00b42dcdf17cc8f8984bfae17d110',
  'coco/000000008532.jpg': '237e72d5ffb557b5052b918c01a4fb15e6bb7dd2151bba9c0538de0024c941f9',
  'coco/000000008690.jpg': 'feca143d5e249b9fcaca7090c2400125ee19c7ad883c11fffe55e8bb451e7429',
  'coco/000000008844.jpg': 'bd8133fe5862ea2b0b308db3c1d96b23012f2f667d43cb524d35ac1b710670a4',
  'coco/000000009378.jpg': '39ac6327aa1b887ff2ae06588576f497d642bbbf3682eb1eada4574087fcc1e5',
  'coco/000000009448.jpg': 'bd6ac1c94ef4599bd7f9d0f43ba0dab52b0afc34a872ee3acc83a20c8e8a6f3f',
  'coco/000000009590.jpg': '93cdd55e59cf7d32c481ca5b00b1b9c64f8b8f44020f64a97752a767fd7571ee',
  'coco/000000009772.jpg': 'ab798f0ee5d1bed52376a5ee8bfbd973cb4c4fface481a9bc7a3ff5d9c57b4c7',
  'media/coco_slideshow_360p.mp4': '743fe8d54e4295be193ee8984d115ecffcbcbd0390f0a7a146565b3d9992b6b3',
  'media/coco_slideshow_720p.mp4': 'fdf2d7eb4c46fec8a23de8430a231a2e0923525eec074df951b9455557bb3032',
};

/** The 50 COCO photo file names, sorted: the slideshows show them in this order. */
export const COCO_PHOTOS: readonly string[] = Object.keys(FIXTURE_SHA256)
  .filter((k) => k.startsWith('coco/'))
  .map((k) => k.slice('coco/'.length))
  .sort();

const ROOT = projectRoot();

/** Where the shared development copies are looked for (read at each call, so tests can move it). */
export function sharedDir(): string {
  return resolve(process.env.FIXTURES_SHARED_DIR ?? join(ROOT, '..', 'shared'));
}

/** Where downloaded and generated fixtures are kept. */
export function fixtureCacheDir(): string {
  return resolve(process.env.FIXTURES_CACHE_DIR ?? join(ROOT, '.cache', 'fixtures'));
}

function downloadTimeoutMs(): number {
  const v = Number(process.env.FIXTURES_DOWNLOAD_TIMEOUT_MS);
  return Number.isFinite(v) && v > 0 ? v : 120_000;
}

const SUBDIR: Record<FixtureKind, string> = { model: 'models', coco: join('media', 'coco'), media: 'media' };

/** True when the shared development copies (models and media) are beside the project. */
export function sharedAvailable(): boolean {
  const shared = sharedDir();
  return existsSync(join(shared, 'models', 'yolox_nano.onnx')) && existsSync(join(shared, 'media', 'coco'));
}

/** An upstream URL as the configured mirror serves it: <mirror>/<host>/<path>. */
export function mirroredUrl(url: string): string {
  const mirror = process.env.FIXTURES_MIRROR;
  if (!mirror) return url;
  const u = new URL(url);
  return `${mirror.replace(/\/+$/, '')}/${u.host}${u.pathname}`;
}

function urlsFor(kind: 'model' | 'coco', name: string): { urls: string[]; convert?: (b: Buffer) => Buffer } {
  if (kind === 'coco') return { urls: [`http://images.cocodataset.org/val2017/${name}`] };
  for (const spec of loadManifest()) {
    for (const item of fetchItems(spec)) {
      if (item.file === name) return { urls: item.urls, convert: item.convert };
    }
  }
  throw new Error(`fixture model/${name}: no model in models/manifest.yaml uses a file of that name`);
}

/**
 * Fixtures made from files the project ships, needing no network. The shared
 * `coco_labels.txt` is the 80 COCO names with Darknet's spellings (as in
 * pjreddie/darknet data/coco.names); the manifest ships the same list with
 * COCO's own spellings as `coco80_labels.txt`.
 */
const DERIVED: Readonly<Record<string, () => Promise<Buffer>>> = {
  'model/coco_labels.txt': async () => {
    const darknet: Record<string, string> = {
      motorcycle: 'motorbike',
      airplane: 'aeroplane',
      couch: 'sofa',
      'potted plant': 'pottedplant',
      'dining table': 'diningtable',
      tv: 'tvmonitor',
    };
    const coco = await readFile(join(ROOT, 'models', 'coco80_labels.txt'), 'utf8');
    return Buffer.from(coco.split('\n').map((name) => darknet[name] ?? name).join('\n'), 'utf8');
  },
};

async function derived(key: string, cached: string, sha: string): Promise<string> {
  const make = DERIVED[key] as () => Promise<Buffer>;
  const bytes = await make();
  const got = createHash('sha256').update(bytes).digest('hex');
  if (got !== sha) throw new Error(`fixture ${key} derived from the project's files has sha256 ${got}, expected ${sha}`);
  await mkdir(dirname(cached), { recursive: true });
  await writeFile(cached, bytes);
  return cached;
}

const pending = new Map<string, Promise<string>>();

/** Forgets resolved paths so the next fixturePath() looks at the disk again (cache tests). */
export function forgetResolvedFixtures(): void {
  pending.clear();
}

/**
 * Absolute path of a fixture file, e.g. fixturePath('coco', '000000000139.jpg'),
 * fixturePath('model', 'yolox_nano.onnx'), fixturePath('media', 'coco_slideshow_360p.mp4').
 */
export function fixturePath(kind: FixtureKind, name: string): Promise<string> {
  const key = `${kind}/${name}`;
  const memo = `${sharedDir()}\0${fixtureCacheDir()}\0${key}`;
  let p = pending.get(memo);
  if (p === undefined) {
    p = locate(kind, name, key);
    pending.set(memo, p);
    p.catch(() => pending.delete(memo));
  }
  return p;
}

async function locate(kind: FixtureKind, name: string, key: string): Promise<string> {
  // Label files the project ships itself (models/) need no fetching.
  const shipped = join(ROOT, 'models', name);
  if (kind === 'model' && existsSync(shipped)) return shipped;
  const shared = join(sharedDir(), SUBDIR[kind], name);
  if (existsSync(shared)) return shared;
  const sha = FIXTURE_SHA256[key];
  if (sha === undefined) throw new Error(`unknown fixture ${key}; known: ${Object.keys(FIXTURE_SHA256).join(', ')}`);
  const cached = join(fixtureCacheDir(), SUBDIR[kind], name);
  if (kind === 'media') return generatedSlideshow(name, cached, shared);
  if (existsSync(cached) && (await sha256File(cached)) === sha) return cached;
  if (key in DERIVED) return derived(key, cached, sha);
  const { urls: upstream, convert } = urlsFor(kind, name);
  const urls = upstream.map(mirroredUrl);
  const res = await downloadVerified(urls, cached, sha, { convert, timeoutMs: downloadTimeoutMs() });
  if (!res.ok) {
    throw new Error(
      `fixture ${key} is not in ${sharedDir()} nor in ${dirname(cached)}, and could not be downloaded:\n  ${res.errors.join('\n  ')}`,
    );
  }
  return cached;
}

// --- slideshows -------------------------------------------------------------

export const SLIDESHOW_FPS = 25;
/** Frames each photo stays on screen (0.8 s at 25 fps): photo i covers frames 20·i … 20·i+19. */
export const FRAMES_PER_PHOTO = 20;

/**
 * The photo a camera sees in its ring frame `frame` (counted from 1) when it
 * samples the slideshow at `sampledFps`: ffmpeg's fps filter emits output
 * frame n at n / sampledFps seconds; the slideshow loops every 50 photos.
 */
export function slideshowPhotoAt(frame: number, sampledFps: number): string {
  const secondsPerPhoto = FRAMES_PER_PHOTO / SLIDESHOW_FPS;
  return COCO_PHOTOS[Math.floor((frame - 1) / (secondsPerPhoto * sampledFps)) % COCO_PHOTOS.length] as string;
}

const SLIDESHOW_SIZE: Readonly<Record<string, { width: number; height: number }>> = {
  'coco_slideshow_720p.mp4': { width: 1280, height: 720 },
  'coco_slideshow_360p.mp4': { width: 640, height: 360 },
};

/**
 * The ffmpeg filter that fits a photo into width×height, centred on black.
 * Padding in RGB places it at exactly (W−w)/2; in yuv420p pad would round the
 * offset to even and shift odd-offset photos by a pixel against the shared copy.
 */
export function fitOnBlackFilter(width: number, height: number): string {
  return `scale=${width}:${height}:force_original_aspect_ratio=decrease,format=rgb24,pad=${width}:${height}:(ow-iw)/2:(oh-ih)/2:black,setsar=1`;
}

/**
 * The slideshow from the cache, generated when absent. The shared copies were
 * made this way (720p from the photos, 360p by scaling the 720p), so frames
 * match theirs closely, but the bytes (and sha256) do not: the generated file
 * is checked by probing it, and on reuse against the sha256 recorded beside it.
 */
async function generatedSlideshow(name: string, cached: string, sharedPath: string): Promise<string> {
  const size = SLIDESHOW_SIZE[name];
  if (size === undefined) throw new Error(`fixture media/${name}: no recipe to generate it and no shared copy at ${sharedPath}`);
  const record = `${cached}.sha256`;
  if (existsSync(cached) && existsSync(record)) {
    const [want, got] = await Promise.all([readFile(record, 'utf8'), sha256File(cached)]);
    if (want.trim() === got) return cached;
  }
  const ffmpeg = await resolveFfmpegPath();
  await mkdir(dirname(cached), { recursive: true });
  const tmp = join(dirname(cached), `.${basename(cached)}.part-${process.pid}-${Math.random().toString(36).slice(2, 10)}.mp4`);
  try {
    await runFfmpeg(ffmpeg, await slideshowArgs(name, size.width, size.height, tmp));
    const probed = await probeVideo(tmp, ffmpeg);
    const frames = COCO_PHOTOS.length * FRAMES_PER_PHOTO;
    const seconds = frames / SLIDESHOW_FPS;
    if (probed.width !== size.width || probed.height !== size.height || probed.frames !== frames || Math.abs(probed.durationS - seconds) > 0.1) {
      throw new Error(
        `generated media/${name} is ${probed.width}x${probed.height}, ${probed.frames} frames, ${probed.durationS} s; ` +
          `expected ${size.width}x${size.height}, ${frames} frames, ${seconds} s`,
      );
    }
    await rename(tmp, cached);
  } finally {
    await rm(tmp, { force: true });
  }
  await writeFile(record, `${await sha256File(cached)}\n`);
  const source = name === 'coco_slideshow_720p.mp4' ? `the ${COCO_PHOTOS.length} COCO photos` : 'the 720p slideshow';
  console.warn(
    `fixtures: generated ${cached} from ${source} because the shared copy ${sharedPath} is absent ` +
      '(its sha256 cannot match the shared one; that is expected)',
  );
  return cached;
}

async function slideshowArgs(name: string, width: number, height: number, out: string): Promise<string[]> {
  const encode = ['-c:v', 'libx264', '-crf', '28', '-g', '50', '-pix_fmt', 'yuv420p', '-r', String(SLIDESHOW_FPS), '-an', '-f', 'mp4', '-y', out];
  if (name !== 'coco_slideshow_720p.mp4') {
    return ['-i', await fixturePath('media', 'coco_slideshow_720p.mp4'), '-vf', `scale=${width}:${height}`, ...encode];
  }
  const photos = await Promise.all(COCO_PHOTOS.map((photo) => fixturePath('coco', photo)));
  const seconds = String(FRAMES_PER_PHOTO / SLIDESHOW_FPS);
  const inputs = photos.flatMap((p) => ['-framerate', String(SLIDESHOW_FPS), '-loop', '1', '-t', seconds, '-i', p]);
  const fit = photos.map((_, i) => `[${i}:v]${fitOnBlackFilter(width, height)},format=yuv420p[v${i}]`);
  const graph = `${fit.join(';')};${photos.map((_, i) => `[v${i}]`).join('')}concat=n=${photos.length}:v=1:a=0[out]`;
  return [...inputs, '-filter_complex', graph, '-map', '[out]', ...encode];
}

function runProcess(bin: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-8000)));
    child.on('error', reject);
    child.on('close', (code) => resolveRun({ code, stdout, stderr }));
  });
}

async function runFfmpeg(ffmpeg: string, args: string[]): Promise<void> {
  const res = await runProcess(ffmpeg, ['-hide_banner', '-nostdin', '-v', 'error', ...args]);
  if (res.code !== 0) throw new Error(`${ffmpeg} failed (exit ${res.code}) generating a slideshow:\n${res.stderr}`);
}

export interface ProbedVideo {
  width: number;
  height: number;
  frames: number;
  durationS: number;
}

/** Size, frame count (packets counted, not trusted from the header) and duration of a video's first stream. */
export async function probeVideo(file: string, ffmpegPath?: string): Promise<ProbedVideo> {
  const ffmpeg = ffmpegPath ?? (await resolveFfmpegPath());
  const beside = join(dirname(ffmpeg), 'ffprobe');
  const ffprobe = existsSync(beside) ? beside : findOnPath('ffprobe');
  if (ffprobe === null) throw new Error(`ffprobe not found beside ${ffmpeg} nor on PATH; it is needed to check generated fixtures`);
  const res = await runProcess(ffprobe, [
    '-v', 'error', '-select_streams', 'v:0', '-count_packets',
    '-show_entries', 'stream=width,height,nb_read_packets:format=duration', '-of', 'json', file,
  ]);
  if (res.code !== 0) throw new Error(`${ffprobe} could not read ${file}:\n${res.stderr}`);
  const json = JSON.parse(res.stdout) as { streams?: { width?: number; height?: number; nb_read_packets?: string }[]; format?: { duration?: string } };
  const s = json.streams?.[0];
  return { width: s?.width ?? 0, height: s?.height ?? 0, frames: Number(s?.nb_read_packets ?? 0), durationS: Number(json.format?.duration ?? 0) };
}
