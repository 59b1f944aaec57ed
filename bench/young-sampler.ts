// The young-task sampler's CPU on real cgroups: new tasks arrive at 1, 10 and 50 a second
// (each a real cgroup made in the v1 cpu, cpuacct, memory, blkio and pids hierarchies and in
// the cgroup2 mount, as runc does on this hybrid host) and are added to an engine as Discovery
// adds them; they stay registered (running containers). For each rate, three runs of RUN_S:
//
//   - off:   add() without firstReading (the library default; no reads at all);
//   - first: firstReading with youngTaskMs 0 (the first reading at add() only);
//   - young: firstReading with the defaults (2 s young at 250 ms: the agent's setting).
//
// The process's CPU (user + system, process.cpuUsage) per second of each run; the sampler's
// cost is young − off (its first reading, first − off). The mkdirs are the same in every run
// and cancel out. Young-task reads per second come from the engine's own count.
//
//   node --expose-gc --import tsx bench/young-sampler.ts
import * as fs from 'node:fs';
import { CgroupMetrics } from '../src/metrics/cgroup-metrics.ts';
import { BENCH_CONTROLLERS, cleanupAtExit, printTable, rmdirQuiet, writeResults } from './lib/v1-cgroups.ts';

const RATES = [1, 10, 50];
const RUN_S = Number(process.env.YOUNG_BENCH_S ?? 10);
const VARIANTS = ['off', 'first', 'young'] as const;
type Variant = (typeof VARIANTS)[number];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const made: string[] = [];

function mkTask(p: string): void {
  for (const ctrl of BENCH_CONTROLLERS) fs.mkdirSync(`/sys/fs/cgroup/${ctrl}${p}`);
  made.push(p);
}

function cleanup(): void {
  for (const p of made.splice(0)) for (const ctrl of BENCH_CONTROLLERS) rmdirQuiet(`/sys/fs/cgroup/${ctrl}${p}`);
}
cleanupAtExit(cleanup);

interface Run {
  rate: number;
  variant: Variant;
  tasks: number;
  cpuMsPerS: number;
  youngReadsPerS: number;
}

async function run(rate: number, variant: Variant): Promise<Run> {
  const engine = new CgroupMetrics(variant === 'first' ? { youngTaskMs: 0 } : {});
  const prefix = `ocm-young-bench-${process.pid}-${rate}-${variant}`;
  global.gc?.();
  await sleep(200);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const total = RUN_S * rate;
  for (let i = 0; i < total; i++) {
    // Paced against the clock, so that a slow add does not lower the rate.
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const p = `/${prefix}-${i}`;
    mkTask(p);
    engine.add({ id: String(i), cgroup: p, firstReading: variant !== 'off' });
  }
  await sleep(Math.max(0, t0 + RUN_S * 1000 - performance.now()));
  const c = process.cpuUsage(c0);
  const s = (performance.now() - t0) / 1000;
  const youngReads = engine.youngReads;
  for (const t of engine.tasks()) engine.remove(t.id, t.namespace);
  cleanup();
  await sleep(300); // the sampler's timer sees no young task left and stops
  return { rate, variant, tasks: total, cpuMsPerS: (c.user + c.system) / 1000 / s, youngReadsPerS: youngReads / s };
}

if (process.getuid?.() !== 0) throw new Error('the benchmark makes real cgroups: run it as root');
const runs: Run[] = [];
for (const rate of RATES) for (const variant of VARIANTS) runs.push(await run(rate, variant));

const rows: Array<[string, string]> = [];
const summary: Array<Record<string, number>> = [];
for (const rate of RATES) {
  const by = (v: Variant) => runs.find((r) => r.rate === rate && r.variant === v) as Run;
  const off = by('off');
  const first = by('first');
  const young = by('young');
  const firstMs = first.cpuMsPerS - off.cpuMsPerS;
  const youngMs = young.cpuMsPerS - off.cpuMsPerS;
  summary.push({
    newTasksPerS: rate,
    cpuMsPerSOff: off.cpuMsPerS,
    cpuMsPerSFirst: first.cpuMsPerS,
    cpuMsPerSYoung: young.cpuMsPerS,
    firstReadingCpuMsPerS: firstMs,
    samplerCpuMsPerS: youngMs,
    youngReadsPerS: young.youngReadsPerS,
  });
  rows.push([
    `${rate} new/s`,
    `process CPU off ${off.cpuMsPerS.toFixed(1)} ms/s, first ${first.cpuMsPerS.toFixed(1)}, young ${young.cpuMsPerS.toFixed(1)}; ` +
      `first readings +${firstMs.toFixed(1)} ms/s, with young reads +${youngMs.toFixed(1)} ms/s (${(youngMs / 10).toFixed(2)} % of a core); ` +
      `${young.youngReadsPerS.toFixed(0)} young reads/s`,
  ]);
}
printTable(`young-task sampler (defaults: 2 s young, 250 ms interval), ${RUN_S} s a run`, rows);
console.log(`\n${writeResults('young-sampler', { runSeconds: RUN_S, summary, runs })}`);
