/**
 * The persistent record of uploaded files: an append-only JSON-lines journal
 * in the capture directory, replayed at start. One line per uploaded file;
 * a torn last line (crash mid-append) is ignored, which at worst re-uploads
 * that file to the same key. Lines are not fsynced one by one for the same
 * reason: losing the tail costs an idempotent re-upload, nothing else.
 */
import { open, readFile, rename, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

export const JOURNAL_NAME = '.uploads.jsonl';

interface JournalLine {
  path: string;
  key: string;
  bytes: number;
  at: string;
}

function parseLine(line: string): JournalLine | null {
  if (line.trim() === '') return null;
  try {
    const v = JSON.parse(line) as Partial<JournalLine>;
    if (typeof v.path === 'string' && typeof v.key === 'string') {
      return { path: v.path, key: v.key, bytes: typeof v.bytes === 'number' ? v.bytes : 0, at: typeof v.at === 'string' ? v.at : '' };
    }
  } catch {
    // torn or foreign line
  }
  return null;
}

export class UploadIndex {
  private handle: FileHandle | null = null;
  /** Serialises appends and compaction on the one file handle. */
  private chain: Promise<void> = Promise.resolve();
  /** Lines in the file that no longer describe a kept file. */
  private deadLines = 0;

  private constructor(
    readonly file: string,
    private readonly entries: Map<string, JournalLine>,
  ) {}

  /** Opens (creating if needed) `<dir>/.uploads.jsonl` and replays it. */
  static async open(dir: string): Promise<UploadIndex> {
    const file = join(dir, JOURNAL_NAME);
    let text = '';
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const entries = new Map<string, JournalLine>();
    let lines = 0;
    for (const raw of text.split('\n')) {
      const line = parseLine(raw);
      if (!line) continue;
      lines++;
      entries.set(line.path, line);
    }
    const index = new UploadIndex(file, entries);
    index.deadLines = lines - entries.size;
    index.handle = await open(file, 'a');
    // Start the next append on its own line if the last one was torn.
    if (text.length > 0 && !text.endsWith('\n')) await index.handle.appendFile('\n');
    return index;
  }

  /** True when `path` was uploaded to exactly `key` (a changed prefix means upload again). */
  has(path: string, key: string): boolean {
    return this.entries.get(path)?.key === key;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Appends one uploaded file; resolves once the line is handed to the OS. */
  record(path: string, key: string, bytes: number): Promise<void> {
    const line: JournalLine = { path, key, bytes, at: new Date().toISOString() };
    if (this.entries.has(path)) this.deadLines++;
    this.entries.set(path, line);
    return this.enqueue(async (handle) => {
      await handle.appendFile(`${JSON.stringify(line)}\n`);
    });
  }

  /** Drops entries of files deleted locally; rewrites the journal once most lines are dead. */
  forget(paths: Iterable<string>): Promise<void> {
    for (const path of paths) {
      if (this.entries.delete(path)) this.deadLines++;
    }
    if (this.deadLines > 1000 && this.deadLines > this.entries.size) return this.compact();
    return this.chain;
  }

  /** Keeps only the entries `keep` accepts, and rewrites the journal to just those. */
  retain(keep: (path: string) => boolean): Promise<void> {
    for (const path of [...this.entries.keys()]) {
      if (!keep(path)) {
        this.entries.delete(path);
        this.deadLines++;
      }
    }
    return this.deadLines > 0 ? this.compact() : this.chain;
  }

  /** Rewrites the journal from memory via a temp file and a rename. */
  compact(): Promise<void> {
    return this.enqueue(async (handle) => {
      const temp = `${this.file}.tmp`;
      let text = '';
      for (const line of this.entries.values()) text += `${JSON.stringify(line)}\n`;
      const out = await open(temp, 'w');
      try {
        await out.writeFile(text);
        await out.sync();
      } finally {
        await out.close();
      }
      await rename(temp, this.file);
      await handle.close();
      this.handle = await open(this.file, 'a');
      this.deadLines = 0;
    });
  }

  async close(): Promise<void> {
    await this.enqueue(async (handle) => {
      await handle.close();
      this.handle = null;
    });
  }

  private enqueue(task: (handle: FileHandle) => Promise<void>): Promise<void> {
    const run = this.chain.then(() => {
      if (!this.handle) throw new Error(`upload journal ${this.file} is closed`);
      return task(this.handle);
    });
    // A failed write must not wedge every later one.
    this.chain = run.catch(() => undefined);
    return run;
  }
}
