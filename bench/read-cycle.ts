/**
 * Benchmark: one read cycle over 1000 REAL cgroups against the C floor.
 *
 *   node --expose-gc --import tsx bench/read-cycle.ts [--tasks N] [--cycles N]
 *
 * Makes `ocm-bench-<i>` (i < N, default 1000) under a random parent `ocm-bench-run-<hex>` in
 * the v1 cpu, cpuacct, memory, blkio and pids hierarchies plus the cgroup2 twin on the
 * unified mount (so that pressure is read), with one `sleep` in a handful of them so that
 * values are non-zero, and removes them all at the end whatever happens (signals included).
 * Needs root and the hybrid layout: otherwise it fails with a message saying so.
 *
 * Measures, with DEFAULT_GROUPS:
 *   (a) readCycle wall time, warm (median / best of --cycles), and µs per file, the file count
 *       coming from one cycle read through a TracingReader (bench/lib/readers.ts);
 *       plus a breakdown: the same sync reads with no parsing, and the parsing alone (texts
 *       served from memory);
 *   (b) the C floor: bench/c/read-files.c compiled with `cc -O2`, reading the traced file list
 *       the same way (O_RDONLY|O_NONBLOCK, one read into a reused buffer), median / best.
 *       (a) and (b) run interleaved, one JS cycle and one C pass per round, so that load from
 *       other processes hits both alike; the target compares their medians;
 *   (c) the main thread's longest event-loop delay during a cycle (monitorEventLoopDelay at
 *       resolution 1 and a 1 ms setInterval ticker; the larger is reported);
 *   (d) for reference, fs.promises.readFile of every traced file, then the same parsing (one run);
 *   (e) the kept-files read cycle (issue 12): readCycle with `keep: new FileBudget(large)` over
 *       the same cgroups with fresh ReadStates, warmed, and the C floor for it (read-files.c
 *       `kept`: every file opened once, then a pread at offset 0 per file and pass). All four
 *       (a), (e), C open/read/close and C pread run in the same rounds, their order rotating;
 *       the targets are the medians of the per-round ratios (e)/(b) ≤ 0.4 and (e)/C-pread ≤ 1.4.
 *       Also: file descriptors per task (/proc/self/fd before and after the kept warm-up) and
 *       the event-loop delay of kept cycles. RLIMIT_NOFILE is raised where the process may (prlimit,
 *       CAP_SYS_RESOURCE); where 1000 tasks' files do not fit beside the C program's, the kept cycle
 *       and its floors read as many tasks as fit (256 fds left over), every ratio over the same files.
 * Prints a table and writes bench/results/read-cycle.json.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { FileReader } from '../src/cgroup/file-reader.ts';
import { FileBudget } from '../src/cgroup/kept-files.ts';
import { hostCgroupMounts } from '../src/cgroup/mounts.ts';
import { readCycle, type CycleTask } from '../src/cgroup/read-cycle.ts';
import { newReadState, readStats } from '../src/cgroup/read.ts';
import { resolveCgroup } from '../src/cgroup/resolve.ts';
import { DEFAULT_GROUPS, type MetricGroup } from '../src/cgroup/types.ts';
import { countFds, fdLimit, raiseFdLimit } from './lib/fds.ts';
import { MapReader, TracingReader } from './lib/readers.ts';
import { cleanupAtExit } from './lib/v1-cgroups.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const C_SOURCE = path.join(REPO, 'bench/c/read-files.c');
const RESULTS = path.join(REPO, 'bench/results/read-cycle.json');
const CONTROLLERS = ['cpu', 'cpuacct', 'memory', 'blkio', 'pids'] as const;

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} wants a positive integer`);
  return v;
}
const N_TASKS = arg('--tasks', 1000);
const N_CYCLES = arg('--cycles', 15);
const N_SLEEPERS = Math.min(10, N_TASKS);
const C_REPS = 15;
const DELAY_CYCLES = 10;
const CYCLE_TARGET = 1.3;
const DELAY_TARGET_MS = 20;
const KEPT_VS_C_TARGET = 0.4;
const KEPT_VS_C_KEPT_TARGET = 1.4;

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const best = (xs: number[]): number => Math.min(...xs);
function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

// ---------------------------------------------------------------------------------------------
// Setup and (always) teardown

function fail(msg: string): never {
  console.error(`read-cycle bench: ${msg}`);
  process.exit(1);
}

if (process.getuid?.() !== 0) fail(`needs root to create cgroups (uid ${process.getuid?.()})`);
const mounts = hostCgroupMounts();
for (const c of CONTROLLERS) if (!mounts.v1.has(c)) fail(`needs the v1 ${c} hierarchy (this host is ${mounts.mode})`);
if (!mounts.v2) fail('needs the cgroup2 mount (hybrid layout: /sys/fs/cgroup/unified) so that pressure is read');
const hierRoots = [...CONTROLLERS.map((c) => mounts.v1.get(c)?.mountPoint as string), mounts.v2.mountPoint];
const PARENT = `ocm-bench-run-${randomBytes(4).toString('hex')}`;
// Kept files: 1000 tasks × ~20 files in this process, and as many again in the C program.
const FD_LIMIT_BEFORE = fdLimit();
const FD_LIMIT = raiseFdLimit(1 << 20);

const made: Array<{ dir: string; root: string }> = [];
const sleepers: ChildProcess[] = [];
let tmpDir: string | undefined;
let cleaned = false;

function procsOf(dir: string): string[] {
  try {
    return fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

function cleanup(): void {
  if (cleaned) return;
  cleaned = true;
  for (const s of sleepers) {
    try {
      if (s.pid !== undefined && s.exitCode === null) process.kill(s.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  const left: string[] = [];
  for (const { dir, root } of [...made].reverse()) {
    for (let i = 0; i < 100; i++) {
      for (const pid of procsOf(dir)) {
        try {
          fs.writeFileSync(path.join(root, 'cgroup.procs'), pid);
        } catch {
          /* exited */
        }
      }
      try {
        fs.rmdirSync(dir);
        break;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') break;
        if (code !== 'EBUSY' || i === 99) {
          left.push(`${dir} (${code})`);
          break;
        }
        sleepMs(10);
      }
    }
  }
  if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
  if (left.length) console.error(`read-cycle bench: could not remove ${left.length} cgroups: ${left.slice(0, 5).join(', ')}`);
  else console.error(`cleanup: removed ${made.length} cgroup directories under ${PARENT}`);
}
cleanupAtExit(cleanup);
process.on('uncaughtException', (err) => {
  console.error(err);
  cleanup();
  process.exit(1);
});

function setup(): CycleTask[] {
  const t0 = performance.now();
  for (const root of hierRoots) {
    const dir = path.join(root, PARENT);
    fs.mkdirSync(dir);
    made.push({ dir, root });
  }
  for (let i = 0; i < N_TASKS; i++) {
    for (const root of hierRoots) {
      const dir = path.join(root, PARENT, `ocm-bench-${i}`);
      fs.mkdirSync(dir);
      made.push({ dir, root });
    }
  }
  // One sleeping process in a handful of cgroups (spread out): non-zero CPU, memory, pids.
  const step = Math.floor(N_TASKS / N_SLEEPERS);
  for (let k = 0; k < N_SLEEPERS; k++) {
    const s = spawn('sleep', ['3600'], { stdio: 'ignore' });
    sleepers.push(s);
    for (const root of hierRoots) fs.writeFileSync(path.join(root, PARENT, `ocm-bench-${k * step}`, 'cgroup.procs'), String(s.pid));
  }
  const tasks = Array.from(
    { length: N_TASKS },
    (_, i): CycleTask => ({
      cgroup: resolveCgroup(mounts, `/${PARENT}/ocm-bench-${i}`),
      state: newReadState(),
    }),
  );
  const first = tasks[0]?.cgroup;
  if (first?.version !== 1 || Object.keys(first.dirs).length !== CONTROLLERS.length || !first.unified) {
    throw new Error(`resolveCgroup did not find all five v1 directories and the cgroup2 twin: ${JSON.stringify(first)}`);
  }
  console.error(`setup: ${made.length} cgroup directories in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return tasks;
}

// ---------------------------------------------------------------------------------------------
// Measurements

const groups: ReadonlySet<MetricGroup> = new Set(DEFAULT_GROUPS);

interface DelayReport {
  /** The larger of the two measures, ms. */
  maxMs: number;
  /** monitorEventLoopDelay (resolution 1) max, ms. */
  histogramMaxMs: number;
  /** Longest gap between two ticks of a 1 ms setInterval, ms. */
  tickerMaxGapMs: number;
  /** Process CPU time (all threads) during that longest gap: far below the gap = the process was descheduled. */
  tickerMaxGapCpuMs: number;
  /** Longest GC pause seen meanwhile, ms. */
  gcMaxMs: number;
}
/** The longest main-thread stall seen by a resolution-1 histogram and by a 1 ms ticker. */
function probeDelay(): { stop(): DelayReport } {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  let gcMax = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcMax = Math.max(gcMax, e.duration);
  });
  obs.observe({ entryTypes: ['gc'] });
  let last = performance.now();
  let lastCpu = process.cpuUsage();
  let maxGap = 0;
  let maxGapCpu = 0;
  const tick = (): void => {
    const now = performance.now();
    const cpu = process.cpuUsage();
    if (now - last > maxGap) {
      maxGap = now - last;
      maxGapCpu = (cpu.user - lastCpu.user + cpu.system - lastCpu.system) / 1000;
    }
    last = now;
    lastCpu = cpu;
  };
  const iv = setInterval(tick, 1);
  return {
    stop() {
      tick();
      clearInterval(iv);
      h.disable();
      obs.disconnect();
      const histogramMaxMs = h.max / 1e6;
      return { maxMs: Math.max(histogramMaxMs, maxGap), histogramMaxMs, tickerMaxGapMs: maxGap, tickerMaxGapCpuMs: maxGapCpu, gcMaxMs: gcMax };
    },
  };
}

function cycleErrors(results: Array<{ errors: unknown[]; gone: boolean } | undefined>): number {
  let n = 0;
  for (const r of results) if (!r || r.gone || r.errors.length) n++;
  return n;
}

async function main(): Promise<void> {
  const tasks = setup();

  // Warm-up: the first cycle learns the absent files (no memory.peak on v1, no CFQ blkio
  // files), later ones are the steady state.
  for (let i = 0; i < 3; i++) {
    const r = await readCycle(tasks, groups);
    if (r.timedOut || cycleErrors(r.results))
      throw new Error(
        `warm-up cycle ${i}: ${r.timedOut} timed out, ${cycleErrors(r.results)} tasks with errors: ${JSON.stringify(r.results.find((x) => x?.errors.length)?.errors.slice(0, 3))}`,
      );
  }

  // One traced cycle: the exact files a warm cycle opens.
  const traced = new TracingReader();
  await readCycle(tasks, groups, { reader: traced });
  const trace = traced.paths;
  const files = trace.length;
  const perTask = files / tasks.length;
  const sample = tasks.find((_, i) => i === 0);
  const sampleStats = sample ? readStats(sample.cgroup, groups, sample.state).stats : undefined;

  // (e) The same cgroups read with kept files: fresh ReadStates, a budget far above 1000 tasks.
  // Every file of N_KEPT tasks stays open in this process (and in the C program): as many tasks
  // as RLIMIT_NOFILE allows, with 256 left over, up to all of them.
  const fdsBase = countFds();
  const nKept = Math.min(tasks.length, Math.floor((FD_LIMIT - fdsBase - 256) / perTask));
  const keep = new FileBudget(1 << 22);
  const keptTasks: CycleTask[] = tasks.slice(0, nKept).map((t) => ({ cgroup: t.cgroup, state: newReadState() }));
  // The files of those tasks, for the C floors of the kept cycle.
  const tracedKept = new TracingReader();
  await readCycle(tasks.slice(0, nKept), groups, { reader: tracedKept });
  const traceKept = tracedKept.paths;
  const keptFiles = traceKept.length;
  const fdsBefore = countFds();
  for (let i = 0; i < 3; i++) {
    const r = await readCycle(keptTasks, groups, { keep });
    if (r.timedOut || cycleErrors(r.results))
      throw new Error(
        `kept warm-up cycle ${i}: ${r.timedOut} timed out, ${cycleErrors(r.results)} tasks with errors: ${JSON.stringify(r.results.find((x) => x?.errors.length)?.errors.slice(0, 3))}`,
      );
  }
  const fdsAfter = countFds();
  const keptNow = keptTasks.filter((t) => (t.state.kept?.size ?? 0) > 0).length;
  if (keptNow !== keptTasks.length) throw new Error(`only ${keptNow} of ${keptTasks.length} tasks keep their files`);
  const fdsPerTask = (fdsAfter - fdsBefore) / keptTasks.length;
  const keptOpen = keep.open;

  // (a) + (b), interleaved round by round so that load from other processes on the machine
  // hits both alike: one warm readCycle, then one pass of the C program over the traced list
  // (alternating which goes first). The C program is compiled once; its timing is internal
  // (clock_gettime around the pass), so the process start is not counted.
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocm-bench-c-'));
  const listFile = path.join(tmpDir, 'files.txt');
  fs.writeFileSync(listFile, `${trace.join('\n')}\n`);
  const keptListFile = path.join(tmpDir, 'kept-files.txt');
  fs.writeFileSync(keptListFile, `${traceKept.join('\n')}\n`);
  const exe = path.join(tmpDir, 'read-files');
  execFileSync('cc', ['-O2', '-o', exe, C_SOURCE], { stdio: 'inherit' });
  let cInfo = { files: 0, failed: 0, bytes: 0 };
  /** One C run: `subset` reads the kept tasks' files only, `kept` preads them kept open. */
  const runC = (reps: number, kept = false, subset = kept): number[] => {
    const list = subset ? keptListFile : listFile;
    const want = subset ? keptFiles : files;
    const out = JSON.parse(execFileSync(exe, [list, String(reps), ...(kept ? ['kept'] : [])], { encoding: 'utf8' })) as {
      files: number;
      failed: number;
      bytes: number;
      ns: number[];
    };
    if (out.files !== want) throw new Error(`C read ${out.files} paths, the trace has ${want}`);
    if (out.failed !== 0) throw new Error(`C could not read ${out.failed} of the traced files${kept ? ' (kept)' : ''}`);
    if (!subset) cInfo = { files: out.files, failed: out.failed, bytes: out.bytes };
    return out.ns.map((n) => n / 1e6);
  };
  runC(1); // warm
  runC(1, true);
  const cycleMs: number[] = [];
  const cMs: number[] = [];
  const keptMs: number[] = [];
  const cKeptMs: number[] = [];
  const cSubsetMs: number[] = [];
  const roundRatios: number[] = [];
  const keptVsCRatios: number[] = [];
  const keptVsCKeptRatios: number[] = [];
  const keptVsCycleRatios: number[] = [];
  for (let i = 0; i < N_CYCLES; i++) {
    const js = async (list: CycleTask[], opts: { keep?: FileBudget }): Promise<number> => {
      gc();
      const r = await readCycle(list, groups, opts);
      if (r.timedOut || cycleErrors(r.results)) throw new Error(`cycle ${i}: ${r.timedOut} timed out, ${cycleErrors(r.results)} tasks with errors`);
      return r.durationMs;
    };
    // Four measures a round (five when not every task can keep its files: C open/read/close
    // over the kept tasks' files too), in an order that rotates round by round.
    const got: number[] = [0, 0, 0, 0, 0];
    const steps: Array<() => Promise<number> | number> = [
      () => js(tasks, {}),
      () => runC(1)[0] as number,
      () => js(keptTasks, { keep }),
      () => runC(1, true)[0] as number,
      ...(nKept < tasks.length ? [() => runC(1, false, true)[0] as number] : []),
    ];
    for (let k = 0; k < steps.length; k++) {
      const which = (i + k) % steps.length;
      got[which] = await (steps[which] as () => Promise<number> | number)();
    }
    const [j, c, jk, ck] = got as [number, number, number, number];
    const cs = nKept < tasks.length ? (got[4] as number) : c;
    const scale = tasks.length / nKept; // the JS open/read/close cycle is over every task
    cycleMs.push(j);
    cMs.push(c);
    keptMs.push(jk);
    cKeptMs.push(ck);
    cSubsetMs.push(cs);
    roundRatios.push(j / c);
    keptVsCRatios.push(jk / cs);
    keptVsCKeptRatios.push(jk / ck);
    keptVsCycleRatios.push((jk * scale) / j);
  }
  // A few more C passes back to back, for its own spread.
  const cBurst = runC(C_REPS);
  const cKeptBurst = runC(C_REPS, true);

  // (a') the same sync reads, no parsing: FileReader over the trace, straight.
  const reader = new FileReader();
  const readOnlyMs: number[] = [];
  for (let i = 0; i < N_CYCLES; i++) {
    gc();
    const t0 = performance.now();
    for (const f of trace) {
      try {
        reader.read(f);
      } catch {
        /* counted below */
      }
    }
    readOnlyMs.push(performance.now() - t0);
  }

  // (a'') parsing alone: the same cycle with the texts served from memory.
  const texts = new Map<string, string>();
  for (const f of trace) texts.set(f, reader.read(f));
  const mapReader = new MapReader(texts);
  const parseOnlyMs: number[] = [];
  for (let i = 0; i < N_CYCLES; i++) {
    gc();
    const r = await readCycle(tasks, groups, { reader: mapReader });
    parseOnlyMs.push(r.durationMs);
  }

  // (c) event-loop delay during cycles.
  const delayReports: DelayReport[] = [];
  for (let i = 0; i < DELAY_CYCLES; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 20));
    const p = probeDelay();
    await readCycle(tasks, groups);
    await new Promise((r) => setImmediate(r));
    delayReports.push(p.stop());
  }
  const delays = delayReports.map((d) => d.maxMs);
  const worst = delayReports[delays.indexOf(Math.max(...delays))] as DelayReport;
  const keptDelayReports: DelayReport[] = [];
  for (let i = 0; i < DELAY_CYCLES; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 20));
    const p = probeDelay();
    await readCycle(keptTasks, groups, { keep });
    await new Promise((r) => setImmediate(r));
    keptDelayReports.push(p.stop());
  }
  const keptDelays = keptDelayReports.map((d) => d.maxMs);

  // (e') Node's own floor for kept files: the kept tasks' files closed, the same files opened
  // into a plain array and read with FileReader.readFd (a positional readSync into the reused
  // buffer and its latin1 string), nothing parsed; rounds alternate with the C pread pass.
  for (const t of keptTasks) t.state.kept?.retire();
  const keptFds = traceKept.map((f) => reader.open(f));
  const nodeKeptMs: number[] = [];
  const nodeKeptVsC: number[] = [];
  for (let i = 0; i < N_CYCLES; i++) {
    const node = (): number => {
      gc();
      const t0 = performance.now();
      for (let k = 0; k < keptFds.length; k++) reader.readFd(keptFds[k] as number, traceKept[k] as string);
      return performance.now() - t0;
    };
    let n: number, c: number;
    if (i % 2 === 0) {
      n = node();
      c = runC(1, true)[0] as number;
    } else {
      c = runC(1, true)[0] as number;
      n = node();
    }
    nodeKeptMs.push(n);
    nodeKeptVsC.push(n / c);
  }
  for (const fd of keptFds) fs.closeSync(fd);

  // (d) reference: fs.promises.readFile per file (sequential), then the same parsing.
  gc();
  const pd = probeDelay();
  const t0 = performance.now();
  const asyncTexts = new Map<string, string>();
  for (const f of trace) asyncTexts.set(f, await fs.promises.readFile(f, 'latin1'));
  const tRead = performance.now();
  const asyncParse = await readCycle(tasks, groups, { reader: new MapReader(asyncTexts) });
  const readFileMs = performance.now() - t0;
  const readFileDelay = pd.stop().maxMs;
  const readFileIoMs = tRead - t0;

  // -------------------------------------------------------------------------------------------
  const cycleMed = median(cycleMs);
  const cMed = median(cMs);
  const ratio = cycleMed / cMed;
  const ratioRounds = median(roundRatios);
  const maxDelay = Math.max(...delays);
  const us = (ms: number): string => ((ms * 1000) / files).toFixed(2);
  const usK = (ms: number): string => ((ms * 1000) / keptFiles).toFixed(2);
  const rows: string[][] = [
    ['measure', 'median ms', 'best ms', 'µs/file (median)'],
    [`(a) readCycle, warm (${N_CYCLES} rounds)`, cycleMed.toFixed(1), best(cycleMs).toFixed(1), us(cycleMed)],
    ['    sync reads only (FileReader, no parse)', median(readOnlyMs).toFixed(1), best(readOnlyMs).toFixed(1), us(median(readOnlyMs))],
    ['    parse only (texts from memory)', median(parseOnlyMs).toFixed(1), best(parseOnlyMs).toFixed(1), us(median(parseOnlyMs))],
    [`(b) C floor, cc -O2 (same ${N_CYCLES} rounds)`, cMed.toFixed(1), best(cMs).toFixed(1), us(cMed)],
    [`    C, ${C_REPS} passes back to back`, median(cBurst).toFixed(1), best(cBurst).toFixed(1), us(median(cBurst))],
    [`(e) readCycle, kept files, ${nKept} tasks (same rounds)`, median(keptMs).toFixed(1), best(keptMs).toFixed(1), usK(median(keptMs))],
    ...(nKept < tasks.length
      ? [[`    C open/read/close, those ${nKept} tasks' files`, median(cSubsetMs).toFixed(1), best(cSubsetMs).toFixed(1), usK(median(cSubsetMs))]]
      : []),
    [`    Node readFd on kept files, no parse (own rounds)`, median(nodeKeptMs).toFixed(1), best(nodeKeptMs).toFixed(1), usK(median(nodeKeptMs))],
    [`    C pread on kept files (same rounds)`, median(cKeptMs).toFixed(1), best(cKeptMs).toFixed(1), usK(median(cKeptMs))],
    [`    C pread, ${C_REPS} passes back to back`, median(cKeptBurst).toFixed(1), best(cKeptBurst).toFixed(1), usK(median(cKeptBurst))],
    ['(d) fs.promises.readFile + parse (1 run)', readFileMs.toFixed(1), '-', us(readFileMs)],
    ['    of which readFile alone', readFileIoMs.toFixed(1), '-', us(readFileIoMs)],
  ];
  const w = [0, 1, 2, 3].map((c) => Math.max(...rows.map((r) => r[c]?.length ?? 0)));
  const fmt = (r: string[]): string => r.map((cell, c) => (c === 0 ? cell.padEnd(w[c] ?? 0) : cell.padStart(w[c] ?? 0))).join('  ');
  console.log(`\nread cycle over ${tasks.length} v1 cgroups (+ cgroup2 twins), groups ${[...groups].join(',')}`);
  console.log(
    `files per cycle: ${files} (${perTask.toFixed(1)} per task), ${cInfo.bytes} bytes; node ${process.version}, ${os.cpus().length} CPUs, kernel ${os.release()}, load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}\n`,
  );
  console.log(fmt(rows[0] as string[]));
  console.log(w.map((n) => '-'.repeat(n)).join('  '));
  for (const r of rows.slice(1)) console.log(fmt(r));
  console.log(
    `\n(c) longest event-loop delay during a cycle (${DELAY_CYCLES} cycles): max ${maxDelay.toFixed(2)} ms, median of per-cycle maxima ${median(delays).toFixed(2)} ms`,
  );
  console.log(
    `    worst cycle: histogram ${worst.histogramMaxMs.toFixed(2)} ms, ticker gap ${worst.tickerMaxGapMs.toFixed(2)} ms with ${worst.tickerMaxGapCpuMs.toFixed(2)} ms of process CPU in it, longest GC pause ${worst.gcMaxMs.toFixed(2)} ms`,
  );
  console.log(`    fs.promises.readFile run: ${readFileDelay.toFixed(2)} ms`);
  console.log(`    kept-files cycles: max ${Math.max(...keptDelays).toFixed(2)} ms, median of per-cycle maxima ${median(keptDelays).toFixed(2)} ms`);
  console.log(
    `\n(e) file descriptors: ${fdsBefore} before the kept warm-up, ${fdsAfter} after = ${fdsPerTask.toFixed(2)} per task (${keptNow} tasks keep theirs, ${keptFiles} files; budget.open ${keptOpen}); RLIMIT_NOFILE ${FD_LIMIT_BEFORE}${FD_LIMIT === FD_LIMIT_BEFORE ? ' (could not be raised: no CAP_SYS_RESOURCE)' : ` raised to ${FD_LIMIT}`}${nKept < tasks.length ? `: ${tasks.length} tasks' ${files} files do not fit, the kept cycle and its C floors read the first ${nKept} tasks` : ''}`,
  );
  const keptVsC = median(keptVsCRatios);
  const keptVsCKept = median(keptVsCKeptRatios);
  const keptVsCPass = keptVsC <= KEPT_VS_C_TARGET;
  const keptVsCKeptPass = keptVsCKept <= KEPT_VS_C_KEPT_TARGET;
  const cyclePass = ratio <= CYCLE_TARGET;
  const delayPass = maxDelay <= DELAY_TARGET_MS;
  console.log(
    `\ntarget cycle ≤ ${CYCLE_TARGET} × C floor: ${ratio.toFixed(2)} × (median/median; median of per-round ratios ${ratioRounds.toFixed(2)} ×, best/best ${(best(cycleMs) / best(cMs)).toFixed(2)} ×)  ${cyclePass ? 'PASS' : 'FAIL'}`,
  );
  console.log(`target event-loop delay ≤ ${DELAY_TARGET_MS} ms: ${maxDelay.toFixed(2)} ms  ${delayPass ? 'PASS' : 'FAIL'}`);
  console.log(
    `target kept cycle ≤ ${KEPT_VS_C_TARGET} × C open/read/close: ${keptVsC.toFixed(3)} × (median of per-round ratios; medians ${(median(keptMs) / median(cSubsetMs)).toFixed(3)} ×)  ${keptVsCPass ? 'PASS' : 'FAIL'}`,
  );
  console.log(
    `target kept cycle ≤ ${KEPT_VS_C_KEPT_TARGET} × C pread on kept files: ${keptVsCKept.toFixed(3)} × (median of per-round ratios; medians ${(median(keptMs) / median(cKeptMs)).toFixed(3)} ×)  ${keptVsCKeptPass ? 'PASS' : 'FAIL'}`,
  );
  console.log(`    kept cycle / open-read-close cycle (per task): ${median(keptVsCycleRatios).toFixed(3)} × (median of per-round ratios)`);
  console.log(`    Node readFd on kept files (no parse) / C pread: ${median(nodeKeptVsC).toFixed(3)} × (median of per-round ratios)`);
  console.log(
    `    best / best: kept cycle ${(best(keptMs) / best(cSubsetMs)).toFixed(3)} × C open/read/close, ${(best(keptMs) / best(cKeptMs)).toFixed(3)} × C pread`,
  );

  const json = {
    date: new Date().toISOString(),
    host: { node: process.version, kernel: os.release(), cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model },
    tasks: tasks.length,
    sleepers: N_SLEEPERS,
    groups: [...groups],
    filesPerCycle: files,
    filesPerTask: perTask,
    bytesPerCycle: cInfo.bytes,
    cycle: { medianMs: cycleMed, bestMs: best(cycleMs), usPerFile: (cycleMed * 1000) / files, runsMs: cycleMs },
    syncReadsOnly: { medianMs: median(readOnlyMs), bestMs: best(readOnlyMs), runsMs: readOnlyMs },
    parseOnly: { medianMs: median(parseOnlyMs), bestMs: best(parseOnlyMs), runsMs: parseOnlyMs },
    cFloor: { medianMs: cMed, bestMs: best(cMs), usPerFile: (cMed * 1000) / files, failedOpens: cInfo.failed, runsMs: cMs, backToBackMs: cBurst },
    roundRatios,
    kept: {
      cycle: { medianMs: median(keptMs), bestMs: best(keptMs), usPerFile: (median(keptMs) * 1000) / files, runsMs: keptMs },
      tasks: nKept,
      files: keptFiles,
      cPread: { medianMs: median(cKeptMs), bestMs: best(cKeptMs), runsMs: cKeptMs, backToBackMs: cKeptBurst },
      cOpenReadCloseSameFiles: { medianMs: median(cSubsetMs), runsMs: cSubsetMs },
      nodeReadFdNoParse: {
        medianMs: median(nodeKeptMs),
        bestMs: best(nodeKeptMs),
        runsMs: nodeKeptMs,
        vsCPreadRoundRatios: nodeKeptVsC,
        vsCPread: median(nodeKeptVsC),
      },
      roundRatios: { vsCOpenReadClose: keptVsCRatios, vsCPread: keptVsCKeptRatios, vsCycle: keptVsCycleRatios },
      vsCycle: median(keptVsCycleRatios),
      fds: {
        before: fdsBefore,
        after: fdsAfter,
        perTask: fdsPerTask,
        tasksKept: keptNow,
        budgetOpen: keptOpen,
        rlimitBefore: FD_LIMIT_BEFORE,
        rlimit: FD_LIMIT,
      },
      eventLoopDelay: { maxMs: Math.max(...keptDelays), perCycleMs: keptDelays, cycles: keptDelayReports },
    },
    eventLoopDelay: { maxMs: maxDelay, perCycleMs: delays, worst, cycles: delayReports },
    promisesReadFile: {
      totalMs: readFileMs,
      readFileMs: readFileIoMs,
      parseMs: asyncParse.durationMs,
      usPerFile: (readFileMs * 1000) / files,
      maxDelayMs: readFileDelay,
    },
    targets: {
      cycleVsC: { ratio, medianRoundRatio: ratioRounds, bestRatio: best(cycleMs) / best(cMs), target: CYCLE_TARGET, pass: cyclePass },
      eventLoopDelay: { maxMs: maxDelay, target: DELAY_TARGET_MS, pass: delayPass },
      keptVsCOpenReadClose: { ratio: keptVsC, medianRatio: median(keptMs) / median(cSubsetMs), target: KEPT_VS_C_TARGET, pass: keptVsCPass },
      keptVsCPread: { ratio: keptVsCKept, medianRatio: median(keptMs) / median(cKeptMs), target: KEPT_VS_C_KEPT_TARGET, pass: keptVsCKeptPass },
    },
    sampleStats,
  };
  fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
  fs.writeFileSync(RESULTS, `${JSON.stringify(json, null, 2)}\n`);
  console.log(`\nwrote ${path.relative(REPO, RESULTS)}`);
}

try {
  await main();
} finally {
  cleanup();
}
