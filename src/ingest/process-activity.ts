/**
 * Is a silent ffmpeg stalled, or only starved? On an overloaded machine a
 * niced decoder can go longer than stall_timeout_ms without a frame while it
 * keeps decoding; killing it then throws its work away and restarts cost more
 * CPU (the restart storm that collapsed 96 cameras on 2 cores). A stalled
 * source leaves ffmpeg asleep on its socket: no CPU used, not runnable.
 * Linux /proc only; elsewhere nothing is known and the watchdog acts as before.
 */
import { readFileSync } from 'node:fs';

export interface ProcessActivity {
  /** User + system CPU so far, in clock ticks. */
  cpuTicks: number;
  /** On a run queue (state R): it wants a CPU. */
  runnable: boolean;
}

/** Null where /proc is absent or the process is gone. */
export function readProcessActivity(pid: number): ProcessActivity | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm)", so a comm with spaces cannot shift them: state, ppid, …, utime (14th of the line), stime.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { cpuTicks: Number(fields[11]) + Number(fields[12]), runnable: fields[0] === 'R' };
  } catch {
    return null;
  }
}

/** Watches one process between watchdog checks. */
export class ActivityWatch {
  private lastTicks: number;

  constructor(
    private readonly pid: number,
    private readonly read: (pid: number) => ProcessActivity | null = readProcessActivity,
  ) {
    this.lastTicks = read(pid)?.cpuTicks ?? 0;
  }

  /** True when the process used CPU since the last call, or waits for one now. */
  working(): boolean {
    const now = this.read(this.pid);
    if (now === null) return false;
    const used = now.cpuTicks > this.lastTicks;
    this.lastTicks = now.cpuTicks;
    return used || now.runnable;
  }
}
