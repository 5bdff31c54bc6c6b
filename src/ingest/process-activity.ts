/**
 * Is a silent ffmpeg stalled, or only starved? On an overloaded machine a
 * niced decoder can go longer than stall_timeout_ms without a frame while it
 * keeps decoding; killing it then throws its work away and restarts cost more
 * CPU (the restart storm that collapsed 96 cameras on 2 cores). A stalled
 * source leaves ffmpeg asleep on its socket: no CPU used, not runnable.
 * Linux /proc only; elsewhere nothing is known and the watchdog acts as before.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcessActivity {
  /** Time its threads have spent on a CPU so far, ns. */
  cpuNs: number;
  /** Time its threads have waited on a run queue so far, ns. */
  waitedNs: number;
  /** One of its threads is on a run queue now (state R): it wants a CPU. */
  runnable: boolean;
}

const TICK_NS = 10_000_000; // USER_HZ 100

/**
 * Null where /proc is absent or the process is gone. Every thread counts:
 * ffmpeg's main thread often sleeps while its decoder and filter threads
 * work. Times come from each thread's schedstat (ns): a decoder paced at
 * the source's rate, or one starved by nice, may not use one whole clock
 * tick (10 ms, the unit of /proc/PID/stat) between two looks. Without
 * schedstat, the process's clock ticks stand in for CPU time.
 */
export function readProcessActivity(pid: number): ProcessActivity | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // Fields after "(comm)", so a comm with spaces cannot shift them: state, ppid, …, utime (14th of the line), stime.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const ticksNs = (Number(fields[11]) + Number(fields[12])) * TICK_NS;
  const activity = { cpuNs: 0, waitedNs: 0, runnable: fields[0] === 'R' };
  let threads: string[] = [];
  try {
    threads = readdirSync(`/proc/${pid}/task`);
  } catch {
    return { ...activity, cpuNs: ticksNs };
  }
  let timed = 0;
  for (const tid of threads) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      if (stat[stat.lastIndexOf(')') + 2] === 'R') activity.runnable = true;
      // schedstat: time on a CPU, time waiting on a run queue (ns), timeslices.
      const [onCpu, waited] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
      activity.cpuNs += onCpu || 0;
      activity.waitedNs += waited || 0;
      timed++;
    } catch {
      // A thread that exited between the listing and the read, or no schedstat.
    }
  }
  if (timed === 0) activity.cpuNs = ticksNs;
  return activity;
}

/**
 * CPU used, or time waited for a CPU, between two looks that says the
 * process is working: a source-bound ffmpeg asleep on its socket wakes every
 * 100 ms to check for interruption and uses microseconds doing so.
 */
const WORKING_NS = 1_000_000;

/** Watches one process between watchdog checks. */
export class ActivityWatch {
  private last: ProcessActivity | null;

  constructor(
    private readonly pid: number,
    private readonly read: (pid: number) => ProcessActivity | null = readProcessActivity,
  ) {
    this.last = read(pid);
  }

  /** True when the process used CPU or waited for one since the last call, or waits for one now. */
  working(): boolean {
    const now = this.read(this.pid);
    if (now === null) return false;
    const before = this.last ?? { cpuNs: 0, waitedNs: 0, runnable: false };
    this.last = now;
    return now.cpuNs - before.cpuNs >= WORKING_NS || now.waitedNs - before.waitedNs >= WORKING_NS || now.runnable;
  }
}
