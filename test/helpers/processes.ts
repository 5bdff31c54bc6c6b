/**
 * Processes as /proc shows them, to assert that no ffmpeg is left behind.
 * Looks at descendants of this test process (children of its worker threads
 * are its own children) plus anything reparented to init that runs our
 * ffmpeg command line, since an orphan is exactly what we must catch.
 */
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

export interface ProcInfo {
  pid: number;
  ppid: number;
  state: string;
  comm: string;
  cmdline: string[];
}

function readProc(pid: number): ProcInfo | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm may contain spaces and parentheses: split after the last ')'.
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const rest = stat.slice(close + 2).split(' ');
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    return { pid, ppid: Number(rest[1]), state: rest[0] ?? '?', comm, cmdline };
  } catch {
    return null; // exited while we looked
  }
}

export function listProcesses(): ProcInfo[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map((e) => readProc(Number(e)))
    .filter((p): p is ProcInfo => p !== null);
}

/** Descendants of `root` (default: this process), zombies included. */
export function descendants(root = process.pid): ProcInfo[] {
  const all = listProcesses();
  const out: ProcInfo[] = [];
  const frontier = [root];
  while (frontier.length) {
    const parent = frontier.pop() as number;
    for (const p of all) {
      if (p.ppid === parent) {
        out.push(p);
        frontier.push(p.pid);
      }
    }
  }
  return out;
}

/** ffmpeg processes started by this test process, or orphaned ones reading `marker` (e.g. a port or file name). */
export function ffmpegChildren(marker?: string): ProcInfo[] {
  const isFfmpeg = (p: ProcInfo): boolean => p.comm === 'ffmpeg' || (p.cmdline[0] ?? '').endsWith('ffmpeg');
  const mine = descendants().filter(isFfmpeg);
  if (!marker) return mine;
  const orphans = listProcesses().filter((p) => p.ppid === 1 && isFfmpeg(p) && p.cmdline.some((a) => a.includes(marker)));
  return [...mine, ...orphans];
}

/** Polls until `predicate` holds or `timeoutMs` passes; returns whether it held. */
export async function waitFor(predicate: () => boolean, timeoutMs: number, stepMs = 50): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (predicate()) return true;
    if (Date.now() >= end) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/**
 * Reads a service's JSON log lines (one pino record a line) from its stdout,
 * hands each record to `onRecord`, and resolves with the port of its
 * `listening` line. Rejects after `timeoutMs`, or when the process exits first.
 */
export function serviceListening(
  child: ChildProcess,
  options: { timeoutMs: number; what?: string; onRecord?: (record: Record<string, unknown>) => void },
): Promise<number> {
  const what = options.what ?? 'service';
  return new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not report listening within ${options.timeoutMs} ms`)), options.timeoutMs);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return; // not a log record (npm's or the shell's lines)
      }
      options.onRecord?.(record);
      if (record.msg === 'listening') {
        clearTimeout(timer);
        resolve(record.port as number);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited early with ${code ?? signal}`));
    });
  });
}
