// Same-run A/B of this tree's reader and engine against an earlier commit's (default 6c4d926, the
// last commit before the one-job-per-module split): read cycle and heap per task over 1000 real
// v1 cgroups, rounds alternating so that the shared machine's noise hits both alike.
//   node --expose-gc --import tsx bench/ab-rev.ts [REV]
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { hostCgroupMounts } from '../src/cgroup/mounts.ts';
import * as newCycle from '../src/cgroup/read-cycle.ts';
import * as newRead from '../src/cgroup/read.ts';
import { resolveCgroup } from '../src/cgroup/resolve.ts';
import { DEFAULT_GROUPS } from '../src/cgroup/types.ts';
import { CgroupMetrics as NewEngine } from '../src/metrics/cgroup-metrics.ts';
import { makeV1Cgroups } from './lib/v1-cgroups.ts';

const REV = process.argv[2] ?? '6c4d926';
const N = 1000;
const ROUNDS = 21;
const REPO = path.resolve(import.meta.dirname, '..');
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const collectGarbage: () => void = gc;

class Reader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}
type Engine = typeof NewEngine;
type Cycle = typeof newCycle.readCycle;
type NewState = typeof newRead.newReadState;

async function heapUsed(): Promise<number> {
  let min = Infinity;
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 50));
    collectGarbage();
    min = Math.min(min, process.memoryUsage().heapUsed);
  }
  return min;
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;

const old = fs.mkdtempSync(path.join(os.tmpdir(), 'ocm-ab-'));
execFileSync('git', ['-C', REPO, 'worktree', 'add', '--detach', '-f', old, REV], { stdio: 'ignore' });
fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(old, 'node_modules'));
const cgroups = makeV1Cgroups(`ocm-ab-${process.pid}`, N);
try {
  const oldRead = (await import(path.join(old, 'src/cgroup/read.ts'))) as { newReadState: NewState };
  const oldCycle = (await import(path.join(old, 'src/cgroup/read-cycle.ts'))) as { readCycle: Cycle };
  const OldEngine = ((await import(path.join(old, 'src/metrics/cgroup-metrics.ts'))) as { CgroupMetrics: Engine }).CgroupMetrics;
  const mounts = hostCgroupMounts();
  const groups = new Set(DEFAULT_GROUPS);
  const tasks = (fresh: NewState) => cgroups.paths.map((p) => ({ cgroup: resolveCgroup(mounts, p), state: fresh() }));
  const runs: Record<'old' | 'new', () => Promise<unknown>> = {
    old: (
      (t) => () =>
        oldCycle.readCycle(t, groups)
    )(tasks(oldRead.newReadState)),
    new: (
      (t) => () =>
        newCycle.readCycle(t, groups)
    )(tasks(newRead.newReadState)),
  };
  const ms: Record<'old' | 'new', number[]> = { old: [], new: [] };
  for (let r = 0; r < ROUNDS + 3; r++) {
    for (const name of r % 2 ? (['old', 'new'] as const) : (['new', 'old'] as const)) {
      const t = performance.now();
      await runs[name]();
      if (r >= 3) ms[name].push(performance.now() - t);
    }
  }
  const ratios = ms.new.map((v, i) => v / (ms.old[i] as number));

  // Heap per task: both engines warmed first, then 1000 tasks read twice, alternating.
  const keep: unknown[] = [];
  const engines: Record<'old' | 'new', Engine> = { old: OldEngine, new: NewEngine };
  const heap: Record<'old' | 'new', number[]> = { old: [], new: [] };
  for (const round of [-1, 0, 1, 2, 3]) {
    for (const name of round % 2 ? (['old', 'new'] as const) : (['new', 'old'] as const)) {
      const engine = new engines[name]();
      const reader = new Reader({ metricProducers: [engine.producer()] });
      new MeterProvider({ readers: [reader] });
      await reader.collect();
      const h0 = await heapUsed();
      const paths = round < 0 ? cgroups.paths.slice(0, 50) : cgroups.paths;
      for (const [i, p] of paths.entries()) engine.add({ id: `t-${i}`, namespace: 'bench', cgroup: p });
      await reader.collect();
      await reader.collect();
      if (round >= 0) heap[name].push(((await heapUsed()) - h0) / N);
      keep.push(engine, reader);
    }
  }
  const kb = (xs: number[]) => xs.map((b) => (b / 1024).toFixed(2)).join(' ');
  console.log(`\nA/B against ${REV}, ${N} real v1 cgroups (${os.cpus().length} CPUs)`);
  console.log(
    `  read cycle  old ${median(ms.old).toFixed(1)} ms  new ${median(ms.new).toFixed(1)} ms  new/old ${(median(ms.new) / median(ms.old)).toFixed(3)} (median of per-round ratios ${median(ratios).toFixed(3)})`,
  );
  console.log(`  heap/task   old ${kb(heap.old)} KB   new ${kb(heap.new)} KB`);
} finally {
  cgroups.cleanup();
  execFileSync('git', ['-C', REPO, 'worktree', 'remove', '--force', old], { stdio: 'ignore' });
}
