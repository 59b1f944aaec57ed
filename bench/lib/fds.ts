import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

/** Open file descriptors of this process (entries of /proc/self/fd, less the one readdir holds). */
export function countFds(): number {
  return fs.readdirSync('/proc/self/fd').length - 1;
}

/** The soft RLIMIT_NOFILE of this process, from /proc/self/limits. */
export function fdLimit(): number {
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(fs.readFileSync('/proc/self/limits', 'latin1'));
  return m?.[1] === undefined || m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

/**
 * Tries to raise this process's RLIMIT_NOFILE (soft and hard) to `want` with util-linux
 * `prlimit --pid` (Node has no setrlimit); raising the hard limit needs CAP_SYS_RESOURCE, which
 * a container may lack (this machine's does): then the limit stays. Children started later
 * inherit it. The engine's default budget (kept-files.ts) is read at first use, so call this
 * before making an engine. Returns the soft limit in force afterwards.
 */
export function raiseFdLimit(want: number): number {
  if (fdLimit() >= want) return fdLimit();
  try {
    const nrOpen = Number(fs.readFileSync('/proc/sys/fs/nr_open', 'latin1').trim());
    const n = Math.min(want, nrOpen);
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${n}:${n}`], { stdio: 'ignore' });
  } catch {
    // EPERM without CAP_SYS_RESOURCE: keep the limit there is.
  }
  return fdLimit();
}
