import type { CgroupMetrics } from '../metrics/cgroup-metrics.ts';

/**
 * Ends the process at once when a reading thread is stuck in the kernel (a hung FUSE or NFS
 * read): Node.js joins every thread at exit, and a thread inside a system call never comes back
 * to be joined, so process.exit() would hang with it. Says so first; the exit status is then
 * SIGKILL's (137), whatever the command's own.
 */
export function endIfStuck(engine: CgroupMetrics, log: (line: string) => void): void {
  if (engine.stuckReaders === 0) return;
  log(`a read is stuck in the kernel (${engine.stuckReaders} reading thread(s)): ending by SIGKILL, as Node.js cannot exit while a thread is in a system call`);
  process.kill(process.pid, 'SIGKILL');
}
