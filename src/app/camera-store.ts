/**
 * Where cameras added or removed at run time are kept across restarts.
 * `JsonFileCameraStore` is the embedded default (one JSON file under
 * data_dir); a cluster store (Redis) implements the same interface.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { CameraConfig } from '../config/schema.js';
import { ConfigError, parseCamera } from '../config/load.js';

export interface CameraStore {
  /** The stored cameras, or null when nothing was ever stored (the YAML list then applies). */
  list(): Promise<CameraConfig[] | null>;
  put(camera: CameraConfig): Promise<void>;
  remove(id: string): Promise<void>;
}

export const CAMERAS_FILE = 'cameras.json';

interface CamerasDocument {
  version: 1;
  cameras: CameraConfig[];
}

export interface JsonFileCameraStoreOptions {
  /** Told when a corrupt file was set aside (path it was moved to, and why). */
  onCorrupt?: (info: { file: string; movedTo: string; reason: string }) => void;
}

/**
 * One JSON document, replaced atomically (write a temporary file beside it,
 * then rename), so a crash mid-write leaves the old or the new list, never a
 * torn one. A file that cannot be read as a camera list is renamed to
 * `cameras.json.corrupt-<time>` and reported, never silently dropped.
 */
export class JsonFileCameraStore implements CameraStore {
  readonly file: string;
  private cameras: CameraConfig[] | null = null;
  private loaded = false;
  /** Writes run one at a time, in call order. */
  private queue: Promise<void> = Promise.resolve();

  constructor(
    dataDir: string,
    private readonly options: JsonFileCameraStoreOptions = {},
  ) {
    this.file = join(dataDir, CAMERAS_FILE);
  }

  async list(): Promise<CameraConfig[] | null> {
    await this.load();
    return this.cameras === null ? null : this.cameras.map((c) => ({ ...c }));
  }

  put(camera: CameraConfig): Promise<void> {
    return this.change((list) => [...list.filter((c) => c.id !== camera.id), { ...camera }]);
  }

  remove(id: string): Promise<void> {
    return this.change((list) => list.filter((c) => c.id !== id));
  }

  private change(edit: (list: CameraConfig[]) => CameraConfig[]): Promise<void> {
    const run = this.queue.then(async () => {
      await this.load();
      const next = edit(this.cameras ?? []);
      await this.write(next);
      this.cameras = next;
    });
    this.queue = run.catch(() => {});
    return run;
  }

  private async load(): Promise<void> {
    if (this.loaded) return;
    if (!existsSync(this.file)) {
      this.loaded = true;
      return;
    }
    const text = await readFile(this.file, 'utf8');
    try {
      this.cameras = parseDocument(text, this.file);
    } catch (err) {
      const movedTo = `${this.file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      await rename(this.file, movedTo);
      this.options.onCorrupt?.({ file: this.file, movedTo, reason: (err as Error).message });
      this.cameras = null;
    }
    this.loaded = true;
  }

  private async write(cameras: CameraConfig[]): Promise<void> {
    await mkdir(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp-${process.pid}`;
    const doc: CamerasDocument = { version: 1, cameras };
    try {
      await writeFile(tmp, `${JSON.stringify(doc, null, 2)}\n`);
      await rename(tmp, this.file);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }
}

/** Validates the stored list with the same rules as the YAML `cameras:` list. */
function parseDocument(text: string, file: string): CameraConfig[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${file}: not valid JSON: ${(err as Error).message}`);
  }
  const cameras = (doc as { cameras?: unknown } | null)?.cameras;
  if (!Array.isArray(cameras)) throw new ConfigError(`${file}: expected {"version": 1, "cameras": [...]}`);
  const parsed = cameras.map((c, i) => parseCamera(c, `cameras[${i}]`, file));
  const ids = new Set(parsed.map((c) => c.id));
  if (ids.size !== parsed.length) throw new ConfigError(`${file}: the same camera id appears twice`);
  return parsed;
}
