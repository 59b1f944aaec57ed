import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';

/** The controllers the default metric groups read on this hybrid host, plus the cgroup2 twin (pressure). */
export const BENCH_CONTROLLERS = ['cpu', 'cpuacct', 'memory', 'blkio', 'pids', 'unified'] as const;

export interface BenchCgroups {
  /** Paths relative to the hierarchy roots: `/PREFIX-0` ... */
  paths: string[];
  /** Removes every cgroup (processes killed first). Safe to call twice. */
  cleanup(): void;
}

/** rmdir, an error (already gone, still busy) ignored: cleanups remove what they can. */
export function rmdirQuiet(dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch {
    // already gone
  }
}

/** Runs `cleanup` (synchronous) when the process exits, and on SIGINT, SIGTERM and SIGHUP, which then exit 130. */
export function cleanupAtExit(cleanup: () => void): void {
  process.once('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
    process.once(sig, () => {
      cleanup();
      process.exit(130);
    });
}

/**
 * Makes `count` real cgroups named PREFIX-i in every v1 controller used and in the cgroup2
 * mount, with a sleeping process in `busy` of them (so their values are not all zero).
 * Cleans up on exit and on SIGINT/SIGTERM as well.
 */
export function makeV1Cgroups(prefix: string, count: number, busy = 10): BenchCgroups {
  if (process.getuid?.() !== 0) throw new Error('the benchmark makes real cgroups: run it as root');
  const paths: string[] = [];
  const children: ChildProcess[] = [];
  let cleaned = false;
  const cleanup = (): void => {
    if (cleaned) return;
    cleaned = true;
    for (const c of children) c.kill('SIGKILL');
    // Killed processes leave their cgroups asynchronously: wait until each is empty.
    for (const p of paths) {
      for (const ctrl of BENCH_CONTROLLERS) {
        const dir = `/sys/fs/cgroup/${ctrl}${p}`;
        for (let i = 0; i < 200; i++) {
          try {
            if (fs.readFileSync(`${dir}/cgroup.procs`, 'latin1').trim() === '') break;
          } catch {
            break;
          }
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
        }
        rmdirQuiet(dir);
      }
    }
  };
  cleanupAtExit(cleanup);
  try {
    for (let i = 0; i < count; i++) {
      const p = `/${prefix}-${i}`;
      for (const ctrl of BENCH_CONTROLLERS) fs.mkdirSync(`/sys/fs/cgroup/${ctrl}${p}`);
      paths.push(p);
      if (i < busy) {
        const child = spawn('sleep', ['3600'], { stdio: 'ignore' });
        children.push(child);
        for (const ctrl of BENCH_CONTROLLERS) fs.writeFileSync(`/sys/fs/cgroup/${ctrl}${p}/cgroup.procs`, String(child.pid));
      }
    }
  } catch (err) {
    cleanup();
    throw err;
  }
  return { paths, cleanup };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
}

/** Prints rows as an aligned table. */
export function printTable(title: string, rows: Array<[string, string]>): void {
  const w = Math.max(...rows.map((r) => r[0].length));
  console.log(`\n${title}`);
  for (const [k, v] of rows) console.log(`  ${k.padEnd(w)}  ${v}`);
}

export function writeResults(name: string, data: unknown): string {
  const dir = new URL('../results/', import.meta.url);
  fs.mkdirSync(dir, { recursive: true });
  const file = new URL(`${name}.json`, dir);
  fs.writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return file.pathname;
}
