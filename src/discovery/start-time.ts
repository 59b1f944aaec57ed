import { parseBootTimeS, parseProcStatStartTicks } from '../cgroup/parse/proc.ts';
import { readRegularFile } from '../regular-file.ts';

/** Bound of one read here: cgroup.procs of a very large cgroup, /proc/stat of a very large host. */
const MAX_BYTES = 16 << 20;

/**
 * USER_HZ, the unit of /proc/<pid>/stat's start time: 100 on every architecture Linux runs
 * containers on (the kernel fixes it for the ABI, whatever its own HZ).
 */
const USER_HZ = 100;

let bootTimeMs: number | undefined;

function bootTime(proc: string): number | undefined {
  if (bootTimeMs !== undefined) return bootTimeMs;
  try {
    const s = parseBootTimeS(readRegularFile(`${proc}/stat`, MAX_BYTES));
    if (s !== undefined) bootTimeMs = s * 1000;
  } catch {
    // no /proc: no start time from processes
  }
  return bootTimeMs;
}

/**
 * When the cgroup's oldest process started, ms since the epoch: the start of a container that
 * no runtime names. It depends on the processes alone, so an agent that restarts finds the same
 * time (to the 10 ms of USER_HZ and the second of the boot time) and its cumulative series go
 * on with the same start. Undefined for a cgroup with no process (or none readable).
 */
export function oldestProcessStartMs(procsFile: string, proc = '/proc'): number | undefined {
  let pids: string[];
  try {
    pids = readRegularFile(procsFile, MAX_BYTES).split('\n');
  } catch {
    return undefined;
  }
  const boot = bootTime(proc);
  if (boot === undefined) return undefined;
  let oldest: number | undefined;
  for (const pid of pids) {
    if (!/^\d+$/.test(pid)) continue;
    let ticks: number | undefined;
    try {
      ticks = parseProcStatStartTicks(readRegularFile(`${proc}/${pid}/stat`, MAX_BYTES));
    } catch {
      continue; // exited meanwhile
    }
    if (ticks !== undefined && (oldest === undefined || ticks < oldest)) oldest = ticks;
  }
  return oldest === undefined ? undefined : boot + (oldest * 1000) / USER_HZ;
}
