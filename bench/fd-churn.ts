// File descriptors under churn (issue 12): TOTAL real cgroups ("containers", default 10,000) come
// and go through one engine with its default kept files, in waves of WAVE (default 1000). Each
// wave: WAVE cgroups made in the v1 cpu, cpuacct, memory, blkio and pids hierarchies and the
// cgroup2 mount (as runc makes them on this hybrid host), added, two producer collections (the
// first opens and keeps each admitted task's files), the fd count taken; then the wave ends in
// three ways, a third each:
//   stop     — engine.stop() (the final reading, files closed), then rmdir;
//   vanish   — rmdir first (the kept files now read ENODEV), a collection (finds them gone,
//              closes their files), then engine.stop();
//   remove   — engine.remove() (no final reading), then rmdir;
// and a last collection delivers the final readings. /proc/self/fd is counted while the wave is
// live (per task that keeps its files) and after it ended; at the end it must be back at the
// baseline. Also: the engine's self metrics files.open / files.limit / tasks.read_path, and the
// kernel's dying cgroups (cgroup.stat nr_dying_descendants of the cgroup2 root: a file left open
// on a removed cgroup keeps it dying).
//   node --expose-gc --import tsx bench/fd-churn.ts [TOTAL] [WAVE]
// Needs root. Removes every cgroup it made at the end, on errors and on signals.
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { CgroupMetrics } from '../src/index.ts';
import { countFds, fdLimit } from './lib/fds.ts';
import { type KeptFilesSelf, keptFilesSelf } from './lib/self-metrics.ts';
import { BENCH_CONTROLLERS, cleanupAtExit, printTable, writeResults } from './lib/v1-cgroups.ts';

class BenchReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

const TOTAL = Number(process.argv[2] ?? 10_000);
const WAVE = Number(process.argv[3] ?? 1000);
if (!Number.isInteger(TOTAL) || !Number.isInteger(WAVE) || TOTAL <= 0 || WAVE <= 0) throw new Error('usage: fd-churn.ts [TOTAL] [WAVE]');
if (process.getuid?.() !== 0) throw new Error('the benchmark makes real cgroups: run it as root');

const PARENT = `ocm-bfd-${process.pid}`;
const NS = 'churn';
const roots = BENCH_CONTROLLERS.map((c) => `/sys/fs/cgroup/${c}`);
const live = new Set<string>(); // child names under PARENT not removed yet
let cleaned = false;

function rmdirQuiet(dir: string): boolean {
  try {
    fs.rmdirSync(dir);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}
function rmCgroup(name: string): void {
  for (const r of roots) rmdirQuiet(path.join(r, PARENT, name));
  live.delete(name);
}
function cleanup(): void {
  if (cleaned) return;
  cleaned = true;
  for (const name of [...live]) rmCgroup(name);
  let left = 0;
  for (const r of roots) if (!rmdirQuiet(path.join(r, PARENT))) left++;
  console.error(left ? `cleanup: ${left} parent directories of ${PARENT} could not be removed` : `cleanup: removed every cgroup under ${PARENT}`);
}
cleanupAtExit(cleanup);

/** The files of one cgroup (its path below the hierarchy roots) this process holds open. */
function keptFilesOf(rel: string): string[] {
  const out: string[] = [];
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      const target = fs.readlinkSync(`/proc/self/fd/${fd}`);
      if (target.includes(`${rel}/`)) out.push(target.replace('/sys/fs/cgroup/', '').replace(`${rel}/`, ':'));
    } catch {
      // closed meanwhile (readdir's own fd)
    }
  }
  return out.sort();
}
const firstTaskFiles: string[] = [];

function dying(): number {
  try {
    return Number(/nr_dying_descendants (\d+)/.exec(fs.readFileSync('/sys/fs/cgroup/unified/cgroup.stat', 'latin1'))?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

interface WaveRow {
  wave: number;
  fdsLive: number;
  keptTasks: number;
  reopenTasks: number;
  fdsPerKeptTask: number;
  filesOpen: number | undefined;
  fdsAfter: number;
  filesOpenAfter: number | undefined;
  dyingAfter: number;
  seconds: number;
}

try {
  for (const r of roots) fs.mkdirSync(path.join(r, PARENT));
  const engine = new CgroupMetrics();
  const reader = new BenchReader({ metricProducers: [engine.producer()] });
  new MeterProvider({ readers: [reader] });
  const collect = async (): Promise<KeptFilesSelf> => keptFilesSelf((await reader.collect()).resourceMetrics);
  const self0 = await collect();
  // Settle: Node opens some descriptors lazily (the first child, the first timers of a kind).
  await sleep(100);
  const baseline = countFds();
  const dying0 = dying();
  const rows: WaveRow[] = [];
  const t0 = performance.now();
  let made = 0;
  for (let w = 0; made < TOTAL; w++) {
    const tw = performance.now();
    const names: string[] = [];
    for (let i = 0; i < WAVE && made < TOTAL; i++, made++) {
      const name = `c${made}`;
      live.add(name);
      for (const r of roots) fs.mkdirSync(path.join(r, PARENT, name));
      names.push(name);
      engine.add({ id: name, namespace: NS, cgroup: `/${PARENT}/${name}` });
    }
    await collect();
    const during = await collect();
    const fdsLive = countFds();
    if (w === 0) firstTaskFiles.push(...keptFilesOf(`/${PARENT}/${names[0]}`));
    const kept = during.readPath.kept ?? 0;
    const reopen = during.readPath.reopen ?? 0;
    const third = Math.ceil(names.length / 3);
    const stopNow = names.slice(0, third);
    const vanish = names.slice(third, 2 * third);
    const removeNow = names.slice(2 * third);
    for (const n of stopNow) {
      await engine.stop(n, NS);
      rmCgroup(n);
    }
    for (const n of vanish) rmCgroup(n);
    await collect(); // reads ENODEV / ENOENT: the files close
    for (const n of vanish) await engine.stop(n, NS);
    for (const n of removeNow) {
      engine.remove(n, NS);
      rmCgroup(n);
    }
    const after = await collect(); // delivers the final readings
    rows.push({
      wave: w + 1,
      fdsLive: fdsLive - baseline,
      keptTasks: kept,
      reopenTasks: reopen,
      fdsPerKeptTask: kept ? (fdsLive - baseline) / kept : 0,
      filesOpen: during.filesOpen,
      fdsAfter: countFds() - baseline,
      filesOpenAfter: after.filesOpen,
      dyingAfter: dying() - dying0,
      seconds: (performance.now() - tw) / 1000,
    });
    const r = rows.at(-1) as WaveRow;
    console.error(
      `wave ${r.wave}: ${made} made; live: +${r.fdsLive} fds, kept ${r.keptTasks} / reopen ${r.reopenTasks} tasks (${r.fdsPerKeptTask.toFixed(2)} fds a kept task), files.open ${r.filesOpen}; after: +${r.fdsAfter} fds, files.open ${r.filesOpenAfter}, dying cgroups +${r.dyingAfter} (${r.seconds.toFixed(1)} s)`,
    );
  }
  const final = await collect();
  const fdsEnd = countFds();
  // Dying cgroups are freed by the kernel asynchronously once nothing holds them.
  let dyingEnd = dying() - dying0;
  for (let i = 0; i < 50 && dyingEnd > 0; i++) {
    await sleep(100);
    dyingEnd = dying() - dying0;
  }
  const seconds = (performance.now() - t0) / 1000;
  const fdsPerKept = rows.map((r) => r.fdsPerKeptTask);
  const pass = fdsEnd === baseline && final.filesOpen === 0;
  const res = {
    total: made,
    wave: WAVE,
    seconds,
    rlimitNofile: fdLimit(),
    baselineFds: baseline,
    endFds: fdsEnd,
    backToBaseline: fdsEnd === baseline,
    selfAtStart: self0,
    selfAtEnd: final,
    fdsPerKeptTask: { min: Math.min(...fdsPerKept), max: Math.max(...fdsPerKept) },
    maxFdsAfterAWave: Math.max(...rows.map((r) => r.fdsAfter)),
    dyingCgroupsAtEnd: dyingEnd,
    filesOfOneTask: firstTaskFiles,
    waves: rows,
  };
  printTable(`fds under churn: ${made} real cgroups through one engine, waves of ${WAVE}, ${seconds.toFixed(0)} s`, [
    ['RLIMIT_NOFILE / files.limit (the process budget)', `${fdLimit()} / ${final.filesLimit}`],
    [
      'while a wave is live',
      `kept ${rows[0]?.keptTasks} / reopen ${rows[0]?.reopenTasks} tasks; ${Math.min(...fdsPerKept).toFixed(2)}–${Math.max(...fdsPerKept).toFixed(2)} fds per kept task; files.open ${rows[0]?.filesOpen}`,
    ],
    [`files one task keeps (${firstTaskFiles.length})`, firstTaskFiles.join(' ')],
    [
      'after each wave (stop / vanish / remove)',
      `+${Math.min(...rows.map((r) => r.fdsAfter))}…+${res.maxFdsAfterAWave} fds over the baseline, files.open ${[...new Set(rows.map((r) => r.filesOpenAfter))].join(', ')}`,
    ],
    [
      '/proc/self/fd at the end',
      `${fdsEnd} (baseline ${baseline}): ${fdsEnd === baseline ? 'back to the baseline' : `${fdsEnd - baseline} over`}; files.open ${final.filesOpen}, tasks.read_path ${JSON.stringify(final.readPath)}`,
    ],
    ['dying cgroups (cgroup2 root) at the end', `${dyingEnd} over the start`],
    ['target: fds back to the baseline', pass ? 'PASS' : 'FAIL'],
  ]);
  console.log(`  results: ${writeResults('fd-churn', res)}`);
  if (!pass) process.exitCode = 1;
} finally {
  cleanup();
}
