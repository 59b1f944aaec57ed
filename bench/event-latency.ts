/**
 * Benchmark (issue 14, item 1): from a task's exit to its final reading, idle and under load.
 *
 *   node --expose-gc --import tsx bench/event-latency.ts [--tasks 1000] [--events 100]
 *
 * The agent's engine and discovery in this process (readThread, the native events thread), on a
 * namespace of real cgroups made as runc makes them on this hybrid host (v1 cpu, cpuacct, memory,
 * blkio, pids, then the cgroup2 twin): `--tasks` idle tasks that every collection reads, and
 * `--events` short tasks, two at a time, each a shell that burns ~20 ms of CPU and ends with
 * `exec date +%s%N`: the last thing the task does is print the wall clock, so its exit follows
 * within microseconds. After each task's final reading the bench removes its cgroup, as runc does.
 *
 * For each short task, from that printed time (the exit):
 *   - native read done: the events thread read the task's files (CapturedFiles.doneMs);
 *   - JS thread got it: the main thread received the event (deliveredMs). A design that waits
 *     or reads on the main thread (the `epoll` addon this replaces: its callback ran there) cannot
 *     read before this; its read came later still.
 * Two phases: idle; and loaded, with the main thread collecting and serializing all tasks back
 * to back (a scrape loop: producer.collect + the Prometheus text) and 2 × nproc CPU hogs (`sh`
 * busy loops, outside these cgroups) oversubscribing the CPUs. Both phases run twice in the same
 * process: with the events thread at nice -10 (the default) and at 0 (the process's own), a new
 * Discovery each time on the same engine. Prints p50 / p99 / max and writes
 * bench/results/event-latency.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { layoutsFrom } from '../src/discovery/layouts.ts';
import { Discovery, type DiscoveryEvent } from '../src/discovery/watcher.ts';
import { CgroupMetrics } from '../src/metrics/cgroup-metrics.ts';
import { BENCH_CONTROLLERS, cleanupAtExit, percentile, printTable, rmdirQuiet, writeResults } from './lib/v1-cgroups.ts';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} wants a positive integer`);
  return v;
}
const TASKS = arg('--tasks', 1000);
const EVENTS = arg('--events', 100);
const CONCURRENT = 2;
const BURN_LOOPS = 20_000; // ~20 ms of sh arithmetic here

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const NS = `ocm-evlat-${randomBytes(4).toString('hex')}`;
const roots = BENCH_CONTROLLERS.map((c) => `/sys/fs/cgroup/${c}/${NS}`);
const hogs: ChildProcess[] = [];
const made: string[] = [];

function mk(id: string): void {
  for (const r of roots) fs.mkdirSync(`${r}/${id}`);
  made.push(id);
}
function rm(id: string): void {
  for (const r of roots) {
    for (let i = 0; i < 200; i++) {
      try {
        if (fs.existsSync(`${r}/${id}`)) fs.rmdirSync(`${r}/${id}`);
        break;
      } catch {
        const t = Date.now() + 5;
        while (Date.now() < t);
      }
    }
  }
}
function cleanup(): void {
  for (const h of hogs) h.kill('SIGKILL');
  for (const id of made.splice(0)) rm(id);
  for (const r of roots) rmdirQuiet(r);
}
cleanupAtExit(cleanup);

interface Sample {
  nativeMs: number;
  wakeMs: number;
  jsMs: number;
  source: string;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the benchmark makes real cgroups: run it as root');
  if (!fs.existsSync('/sys/fs/cgroup/unified/cgroup.controllers')) throw new Error('needs the hybrid layout (/sys/fs/cgroup/unified)');
  for (const r of roots) fs.mkdirSync(r);
  for (let i = 0; i < TASKS; i++) mk(`bg-${i}`);
  // Discovery's watches and timers never keep a process alive (the agent's endpoint does).
  const alive = setInterval(() => undefined, 1000);

  const engine = new CgroupMetrics({ readThread: true, onGone: 'stop' });
  const producer = engine.producer();
  const waiters = new Map<string, (e: Extract<DiscoveryEvent, { type: 'stopped' }>) => void>();
  const added = new Set<string>();
  const discover = (eventsNice: number): Discovery => {
    const d = new Discovery(engine, {
      eventsNice,
      layouts: layoutsFrom([], [`^/(?<namespace>${NS})/(?<id>[^/]+)$`]),
      onEvent: (e) => {
        if (e.type === 'added') added.add(e.task.id);
        if (e.type === 'stopped') waiters.get(e.task.id)?.(e);
      },
    });
    d.start();
    if (d.eventsMechanism !== 'native') throw new Error(`the native events thread is not in use: ${d.eventsStatus}`);
    return d;
  };
  let discovery = discover(-10);
  while (added.size < TASKS) await sleep(50);
  await producer.collect(); // warm

  const serializer = new PrometheusSerializer('', false);
  let scraping = false;
  let scrapes = 0;
  const scrapeLoop = async (): Promise<void> => {
    while (scraping) {
      const { resourceMetrics } = await producer.collect();
      serializer.serialize(resourceMetrics);
      scrapes++;
    }
  };

  let seq = 0;
  const one = async (): Promise<Sample> => {
    const id = `ev-${seq++}`;
    mk(id);
    while (!added.has(id)) await sleep(5);
    await sleep(150); // its recording read is done: the events thread has its file list
    const child = spawn('sh', ['-c', `read x; i=0; while [ $i -lt ${BURN_LOOPS} ]; do i=$((i+1)); done; exec date +%s%N`], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    const stopped = new Promise<Extract<DiscoveryEvent, { type: 'stopped' }>>((resolve) => waiters.set(id, resolve));
    for (const r of roots) fs.writeFileSync(`${r}/${id}/cgroup.procs`, String(child.pid));
    child.stdin?.end('\n');
    // 'close': stdout read to its end (its 'data' can come after 'exit').
    const [e] = await Promise.all([stopped, new Promise((r) => child.once('close', r))]);
    waiters.delete(id);
    rm(id); // as runc does, after the exit
    made.splice(made.indexOf(id), 1);
    const exitMs = Number(BigInt(out.trim()) / 1000n) / 1000;
    const c = e.captured;
    return {
      nativeMs: c ? c.doneMs - exitMs : Number.NaN,
      wakeMs: c ? c.wakeMs - exitMs : Number.NaN,
      jsMs: c ? c.deliveredMs - exitMs : Number.NaN,
      source: c ? 'captured' : `${e.result.source}${e.result.lastKnown ? `/${e.result.lastKnown}` : ''}`,
    };
  };
  const phase = async (): Promise<Sample[]> => {
    const out: Sample[] = [];
    let left = EVENTS;
    await Promise.all(
      Array.from({ length: CONCURRENT }, async () => {
        while (left-- > 0) out.push(await one());
      }),
    );
    return out;
  };

  const loaded = async (): Promise<{ samples: Sample[]; scrapesPerS: number }> => {
    for (let i = 0; i < 2 * os.cpus().length; i++) hogs.push(spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' }));
    scraping = true;
    scrapes = 0;
    const loop = scrapeLoop();
    const t0 = performance.now();
    const samples = await phase();
    const loadS = (performance.now() - t0) / 1000;
    scraping = false;
    await loop;
    for (const h of hogs.splice(0)) h.kill('SIGKILL');
    return { samples, scrapesPerS: scrapes / loadS };
  };
  const runs: Array<{ nice: number; idle: Sample[]; loaded: Sample[]; scrapesPerS: number }> = [];
  for (const nice of [-10, 0]) {
    if (nice !== -10) {
      discovery.close();
      discovery = discover(nice);
    }
    const idle = await phase();
    const l = await loaded();
    runs.push({ nice, idle, loaded: l.samples, scrapesPerS: l.scrapesPerS });
  }

  const stats = (xs: number[]) => ({ p50: percentile(xs, 50), p99: percentile(xs, 99), max: Math.max(...xs) });
  const summary = (s: Sample[]) => {
    const ok = s.filter((x) => x.source === 'captured');
    return {
      events: s.length,
      captured: ok.length,
      other: s.filter((x) => x.source !== 'captured').map((x) => x.source),
      exitToWake: stats(ok.map((x) => x.wakeMs)),
      exitToNativeRead: stats(ok.map((x) => x.nativeMs)),
      exitToJsThread: stats(ok.map((x) => x.jsMs)),
    };
  };
  const result = {
    tasks: TASKS,
    events: EVENTS,
    cpus: os.cpus().length,
    hogs: 2 * os.cpus().length,
    runs: runs.map((r) => ({ nice: r.nice, scrapesPerS: r.scrapesPerS, idle: summary(r.idle), loaded: summary(r.loaded) })),
  };
  const f = (x: { p50: number; p99: number; max: number }) => `${x.p50.toFixed(2)} / ${x.p99.toFixed(2)} / ${x.max.toFixed(2)} ms`;
  const rows: Array<[string, string]> = [];
  for (const r of result.runs) {
    for (const [name, p] of [
      ['idle', r.idle],
      ['loaded', r.loaded],
    ] as const) {
      rows.push([`nice ${r.nice}, ${name}: events thread woke`, f(p.exitToWake)]);
      rows.push([`nice ${r.nice}, ${name}: events thread read done`, f(p.exitToNativeRead)]);
      rows.push([`nice ${r.nice}, ${name}: main thread got the event`, f(p.exitToJsThread)]);
      rows.push([`nice ${r.nice}, ${name}: captured`, `${p.captured}/${p.events}${p.other.length ? ` (others: ${p.other.join(', ')})` : ''}`]);
    }
    rows.push([`nice ${r.nice}, loaded: scrapes (collect + serialize) / s`, r.scrapesPerS.toFixed(2)]);
  }
  printTable(
    `exit → final reading, p50 / p99 / max (${TASKS} tasks read each collection; ${EVENTS} short tasks per phase, ${CONCURRENT} at a time; ${result.hogs} CPU hogs when loaded)`,
    rows,
  );
  console.log(`\n${writeResults('event-latency', result)}`);
  discovery.close();
  await engine.close();
  clearInterval(alive);
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(cleanup);
