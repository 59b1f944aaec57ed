import * as fs from 'node:fs';

/** Blocks the thread: cleanup runs in exit handlers, where nothing asynchronous runs any more. */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * rmdir of a cgroup directory, retried every 20 ms while the kernel still holds an exiting
 * process in it (a killed process leaves its cgroup asynchronously). Gives up after `tries`,
 * adding the reason to `errors`; a directory already gone is fine.
 */
export function rmdirRetrySync(dir: string, errors: string[], tries = 100): void {
  for (let i = 0; ; i++) {
    try {
      if (fs.existsSync(dir)) fs.rmdirSync(dir);
      return;
    } catch (err) {
      if (i >= tries) {
        errors.push(`${dir}: ${(err as Error).message}`);
        return;
      }
      sleepSync(20);
    }
  }
}
