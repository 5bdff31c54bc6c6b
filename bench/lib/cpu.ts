/** CPU seconds spent by this process's ffmpeg children (Linux /proc), live and already reaped. */
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_S = 100; // USER_HZ on Linux

/** Fields after the `(comm)` of /proc/PID/stat, so a comm with spaces cannot shift them. */
function statFields(pid: number | 'self'): { comm: string; fields: string[] } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const open = text.indexOf('(');
    const close = text.lastIndexOf(')');
    return { comm: text.slice(open + 1, close), fields: text.slice(close + 2).split(' ') };
  } catch {
    return null;
  }
}

/**
 * Children CPU: cutime+cstime of this process (children it has waited for,
 * i.e. every ffmpeg that exited) plus utime+stime of the ffmpeg children still
 * running. Differences of two readings give the CPU of a time window.
 */
export function ffmpegCpuSeconds(): number {
  const self = statFields('self');
  // Fields (1-based in proc(5)): utime 14, stime 15, cutime 16, cstime 17; here index = n - 3.
  let ticks = self ? Number(self.fields[13]) + Number(self.fields[14]) : 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = statFields(Number(entry));
    if (!stat || stat.comm !== 'ffmpeg' || Number(stat.fields[1]) !== process.pid) continue;
    ticks += Number(stat.fields[11]) + Number(stat.fields[12]);
  }
  return ticks / TICKS_PER_S;
}

/** The whole machine's busy share over a window: 1 - idle, from /proc/stat. */
export function machineTimes(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}
