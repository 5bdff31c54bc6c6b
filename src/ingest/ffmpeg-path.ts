/**
 * Finds the ffmpeg binary: configured path → FFMPEG_BIN → ffmpeg-static (an
 * optional dependency whose file may be absent) → `ffmpeg` on PATH.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface FfmpegPathOptions {
  configured?: string;
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  /** Loads ffmpeg-static's path; injectable for tests. */
  loadStatic?: () => Promise<string | null>;
}

export class FfmpegNotFoundError extends Error {
  override readonly name = 'FfmpegNotFoundError';
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function loadFfmpegStatic(): Promise<string | null> {
  try {
    // Optional dependency: its install script is denied here, so it may be missing entirely.
    const mod = (await import('ffmpeg-static')) as { default?: unknown };
    return typeof mod.default === 'string' ? mod.default : null;
  } catch {
    return null;
  }
}

/** Looks `name` up on PATH like a shell would; null when absent. */
export function findOnPath(name: string, env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string | null {
  const exts = platform === 'win32' ? (env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';').concat('') : [''];
  for (const dir of (env.PATH ?? '').split(platform === 'win32' ? ';' : delimiter)) {
    if (!dir) continue;
    for (const ext of exts) {
      const candidate = join(dir, name + ext.toLowerCase());
      if (isExecutableFile(candidate)) return candidate;
    }
  }
  return null;
}

export async function resolveFfmpegPath(opts: FfmpegPathOptions = {}): Promise<string> {
  const env = opts.env ?? process.env;
  const tried: string[] = [];
  // An explicit choice that is wrong is an error, not something to silently skip.
  if (opts.configured) {
    if (isExecutableFile(opts.configured)) return opts.configured;
    throw new FfmpegNotFoundError(`configured ffmpeg ${opts.configured} is not an executable file`);
  }
  if (env.FFMPEG_BIN) {
    if (isExecutableFile(env.FFMPEG_BIN)) return env.FFMPEG_BIN;
    throw new FfmpegNotFoundError(`FFMPEG_BIN=${env.FFMPEG_BIN} is not an executable file`);
  }
  const staticPath = await (opts.loadStatic ?? loadFfmpegStatic)();
  if (staticPath) {
    if (isExecutableFile(staticPath)) return staticPath;
    tried.push(`ffmpeg-static (${staticPath} is absent)`);
  } else {
    tried.push('ffmpeg-static (not installed)');
  }
  const onPath = findOnPath('ffmpeg', env, opts.platform ?? process.platform);
  if (onPath) return onPath;
  tried.push('ffmpeg on PATH');
  throw new FfmpegNotFoundError(`ffmpeg not found; tried ${tried.join(', ')}. Install ffmpeg or set FFMPEG_BIN`);
}
