// Discovery with 1000 task cgroups in a watched layout (containerd: /<namespace>/<id>) on this
// hybrid host, each made in the v1 cpu, cpuacct, memory, blkio and pids hierarchies and in the
// cgroup2 mount (its cgroup.events is what says `populated 0`), each with a sleeping process
// once added (1000 running "containers"):
//
//   - add latency: mkdir → task registered ('added'), 1000 creations, one at a time;
//   - final-reading latency: SIGKILL of the task's only process → final reading queued
//     ('stopped'), 200 tasks, one at a time; and again while collections run back to back;
//   - watches: Discovery.watchCount and the kernel's count (inotify watches in /proc/PID/fdinfo
//     plus the cgroup.events files held open for epoll);
//   - idle CPU: in-process Discovery + CgroupMetrics for 20 s without scrapes, then 20 s with a
//     producer collecting every 10 s like a scraper; then the agent itself as a child process
//     (`--root` over the same trees, Prometheus scraped every 10 s), utime+stime from
//     /proc/PID/stat over 20 s.
//
// The trees live in a sub-directory of each hierarchy used as the root, so that cgroups made at
// the real roots meanwhile (other benchmarks, tests) do not count. Everything made is removed
// at the end, on an exception, and on SIGINT/SIGTERM.
//
//   node --expose-gc --import tsx bench/discovery.ts
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { CgroupMounts, Hierarchy } from '../src/cgroup/mounts.ts';
import { layoutsFrom } from '../src/discovery/layouts.ts';
import { Discovery, type DiscoveryEvent } from '../src/discovery/watcher.ts';
import { CgroupMetrics } from '../src/metrics/cgroup-metrics.ts';
import { rmdirRetrySync } from '../test/helpers/cgroupfs.ts';
import { freePort } from '../test/helpers/peers.ts';
import { kernelWatchCount } from '../test/helpers/watches.ts';
import { cleanupAtExit } from './lib/v1-cgroups.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TASKS = 1000;
const FINALS = 200;
const FINALS_UNDER_LOAD = 100;
const ADDS_UNDER_LOAD = 100;
const IDLE_S = 20;
const SCRAPE_EVERY_MS = 10_000;
const TARGET = { addP99Ms: 50, finalP99Ms: 50, idleCpuPct: 1 };

const V1 = ['cpu', 'cpuacct', 'memory', 'blkio', 'pids'] as const;
const CG = '/sys/fs/cgroup';
const BASE = `ocm-bdisc-${process.pid}`;
const ROOTS = [...V1.map((c) => `${CG}/${c}/${BASE}`), `${CG}/unified/${BASE}`];
const NS = '/bench';
const taskPath = (i: number): string => `${NS}/t${i}`;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc --import tsx bench/discovery.ts');
if (process.getuid?.() !== 0) throw new Error('the benchmark makes real cgroups under /sys/fs/cgroup: run it as root');
for (const r of [...V1.map((c) => `${CG}/${c}`), `${CG}/unified`]) {
  if (!fs.existsSync(r)) throw new Error(`${r} is missing: this benchmark needs a hybrid cgroup host (v1 hierarchies + cgroup2 at ${CG}/unified)`);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

// ---------------------------------------------------------------------------------------------
// Cleanup: processes, the agent, every directory made (bottom-up), the --root symlink directory

const children = new Set<ChildProcess>();
const made: string[] = []; // relative paths, in creation order
let linkDir: string | undefined;
let cleaned = false;

function cleanup(): void {
  if (cleaned) return;
  cleaned = true;
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  const left: string[] = [];
  for (const rel of [...made].reverse().concat('')) {
    for (const r of ROOTS) rmdirRetrySync(rel ? r + rel : r, left, 150);
  }
  if (linkDir) fs.rmSync(linkDir, { recursive: true, force: true });
  if (left.length) process.stderr.write(`cleanup left ${left.length} directories: ${left.slice(0, 5).join('; ')}\n`);
}
cleanupAtExit(cleanup);

function mkdirAll(rel: string): void {
  for (const r of ROOTS) fs.mkdirSync(r + rel);
  made.push(rel);
}

function rmdirAll(rel: string): void {
  for (const r of ROOTS) if (fs.existsSync(r + rel)) fs.rmdirSync(r + rel);
  made.splice(made.lastIndexOf(rel), 1);
}

function enterAll(rel: string, pid: number): void {
  for (const r of ROOTS) fs.writeFileSync(`${r}${rel}/cgroup.procs`, String(pid));
}

// ---------------------------------------------------------------------------------------------
// Measurements

function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}

function summary(xs: readonly number[]): { n: number; p50: number; p99: number; max: number } {
  return { n: xs.length, p50: percentile(xs, 50), p99: percentile(xs, 99), max: Math.max(...xs) };
}

const CLK_TCK = 100; // sysconf(_SC_CLK_TCK) on Linux
/** utime + stime of a process, seconds (/proc/PID/stat fields 14 and 15). */
function procCpuS(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

function selfCpuS(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

// ---------------------------------------------------------------------------------------------
// In-process: Discovery + CgroupMetrics over the trees

const v1 = new Map<string, Hierarchy>(V1.map((c) => [c, { mountPoint: `${CG}/${c}/${BASE}`, root: '/', controllers: [c] }]));
const mounts: CgroupMounts = { mode: 'hybrid', v1, v2: { mountPoint: `${CG}/unified/${BASE}`, root: '/', controllers: [] } };

const waiters = new Map<string, (at: number, e: DiscoveryEvent) => void>();
const errors: string[] = [];
function onEvent(e: DiscoveryEvent): void {
  const at = performance.now();
  if (e.type === 'error') errors.push(`${e.path}: ${e.message}`);
  const key = `${e.type} ${'path' in e ? e.path : ''}`;
  const w = waiters.get(key);
  if (w) {
    waiters.delete(key);
    w(at, e);
  }
}
function next(type: 'added' | 'stopped', rel: string, timeoutMs = 5000): Promise<{ at: number; e: DiscoveryEvent }> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      waiters.delete(`${type} ${rel}`);
      reject(new Error(`no '${type}' event for ${rel} within ${timeoutMs} ms`));
    }, timeoutMs);
    waiters.set(`${type} ${rel}`, (at, e) => {
      clearTimeout(t);
      resolve({ at, e });
    });
  });
}

/** IDLE_S seconds with `fn` in the middle of every 10 s (two calls in 20 s), as a scraper would. */
async function everyTenSeconds(fn: () => Promise<void>): Promise<void> {
  const start = performance.now();
  for (let k = 0; k * SCRAPE_EVERY_MS < IDLE_S * 1000; k++) {
    await sleep(start + k * SCRAPE_EVERY_MS + SCRAPE_EVERY_MS / 2 - performance.now());
    await fn();
  }
  await sleep(start + IDLE_S * 1000 - performance.now());
}

/** Collections back to back until stopped (a worst case: the agent scraped without pause). */
function backToBack(producer: ReturnType<CgroupMetrics['producer']>): { stop(): Promise<number> } {
  let running = true;
  let n = 0;
  const loop = (async () => {
    while (running) {
      await producer.collect();
      n++;
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return n;
    },
  };
}

const results: Record<string, unknown> = { tasks: TASKS, host: { cpus: os.cpus().length, kernel: os.release(), node: process.version } };
const rows: Array<[string, string, string]> = [];
const verdict = (ok: boolean): string => (ok ? 'PASS' : 'FAIL');
const ms = (x: number): string => `${x.toFixed(2)} ms`;

try {
  for (const r of ROOTS) fs.mkdirSync(r);
  mkdirAll(NS);
  const engine = new CgroupMetrics({ mounts, onGone: 'stop' });
  const producer = engine.producer();
  const discovery = new Discovery(engine, { layouts: layoutsFrom(['containerd']), onEvent });
  discovery.start();
  await sleep(20);
  const baseWatches = discovery.watchCount; // root + namespace

  // 1. add latency, one creation at a time
  const adds: number[] = [];
  for (let i = 0; i < TASKS; i++) {
    const rel = taskPath(i);
    const added = next('added', rel);
    const t0 = performance.now();
    mkdirAll(rel);
    adds.push((await added).at - t0);
  }
  const add = summary(adds);
  await tick();
  const watches = { discovery: discovery.watchCount, kernel: kernelWatchCount(), expected: baseWatches + TASKS };
  console.log(`added ${TASKS} tasks: p50 ${ms(add.p50)}, p99 ${ms(add.p99)}; watches ${watches.discovery} (kernel ${watches.kernel})`);

  // ... and while collections of the 1000 run back to back (another namespace, removed after)
  mkdirAll('/load');
  await sleep(20);
  const load1 = backToBack(producer);
  const addsLoaded: number[] = [];
  for (let i = 0; i < ADDS_UNDER_LOAD; i++) {
    const rel = `/load/t${i}`;
    const added = next('added', rel);
    const t0 = performance.now();
    mkdirAll(rel);
    addsLoaded.push((await added).at - t0);
    await sleep(3);
  }
  const collectionsDuringAdds = await load1.stop();
  for (let i = 0; i < ADDS_UNDER_LOAD; i++) rmdirAll(`/load/t${i}`);
  rmdirAll('/load');
  const addLoaded = summary(addsLoaded);
  await sleep(100);

  // The periodic rescan (the backstop for missed events): its CPU with 1000 tasks, first empty
  // (never run: populated 0, so it also reads cpu.stat to tell "not started" from "ended"), then
  // each with a process, as running containers are.
  async function rescanCost(): Promise<number> {
    const xs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const u0 = selfCpuS();
      discovery.rescan();
      xs.push((selfCpuS() - u0) * 1000);
      await sleep(50);
    }
    return percentile(xs, 50);
  }
  const rescanEmptyMs = await rescanCost();

  // Every task gets a sleeping process: 1000 running "containers".
  const sleepers: ChildProcess[] = [];
  function sleeperIn(rel: string): ChildProcess {
    const child = spawn('sleep', ['3600'], { stdio: 'ignore' });
    children.add(child);
    child.once('exit', () => children.delete(child));
    enterAll(rel, child.pid as number);
    return child;
  }
  for (let i = 0; i < TASKS; i++) {
    sleepers.push(sleeperIn(taskPath(i)));
    if (i % 50 === 49) await tick();
  }
  await sleep(1000);
  const rescanMs = await rescanCost();

  // 2. idle CPU in-process: without scrapes (discovery's own cost: rescans, timers), then with a
  //    producer collecting every 10 s like a Prometheus scraper
  gc();
  await sleep(200);
  let c0 = selfCpuS();
  let w0 = performance.now();
  await sleep(IDLE_S * 1000);
  const idleNoScrape = ((selfCpuS() - c0) / ((performance.now() - w0) / 1000)) * 100;
  gc();
  await sleep(200);
  const scrapeMs: number[] = [];
  c0 = selfCpuS();
  w0 = performance.now();
  await everyTenSeconds(async () => {
    const t = performance.now();
    await producer.collect();
    scrapeMs.push(performance.now() - t);
  });
  const idleScrape = ((selfCpuS() - c0) / ((performance.now() - w0) / 1000)) * 100;
  console.log(
    `idle in-process: ${idleNoScrape.toFixed(3)}% of a core without scrapes, ${idleScrape.toFixed(3)}% with a collection every 10 s (${scrapeMs.map((x) => x.toFixed(0)).join(', ')} ms each)`,
  );

  // 3. final-reading latency: the task's only process (running for seconds) killed → the final
  //    reading queued. (The kernel sends cgroup.events notifications at most every 10 ms per
  //    file, CGROUP_FILE_NOTIFY_MIN_INTV: a task that ends within 10 ms of its previous
  //    notification gets its `populated 0` up to 10 ms late.)
  async function finalLatency(i: number): Promise<{ ms: number; source: string; trigger: string }> {
    const rel = taskPath(i);
    const child = sleepers[i] as ChildProcess;
    const stopped = next('stopped', rel);
    const t0 = performance.now();
    child.kill('SIGKILL');
    const { at, e } = await stopped;
    const s = e as Extract<DiscoveryEvent, { type: 'stopped' }>;
    return { ms: at - t0, source: s.result.source, trigger: s.trigger };
  }
  const finals: number[] = [];
  const finalOutcomes = new Map<string, number>();
  for (let i = 0; i < FINALS; i++) {
    const r = await finalLatency(i);
    finals.push(r.ms);
    finalOutcomes.set(`${r.trigger}/${r.source}`, (finalOutcomes.get(`${r.trigger}/${r.source}`) ?? 0) + 1);
  }
  const load2 = backToBack(producer);
  const finalsLoaded: number[] = [];
  for (let i = FINALS; i < FINALS + FINALS_UNDER_LOAD; i++) {
    const r = await finalLatency(i);
    finalsLoaded.push(r.ms);
    finalOutcomes.set(`${r.trigger}/${r.source}`, (finalOutcomes.get(`${r.trigger}/${r.source}`) ?? 0) + 1);
  }
  const collectionsDuringFinals = await load2.stop();
  const fin = summary(finals);
  const finLoaded = summary(finalsLoaded);
  await sleep(50);
  await tick();
  const watchesAfterFinals = { discovery: discovery.watchCount, kernel: kernelWatchCount(), expected: baseWatches + TASKS - FINALS - FINALS_UNDER_LOAD };
  console.log(
    `final readings: p50 ${ms(fin.p50)}, p99 ${ms(fin.p99)}; under load p99 ${ms(finLoaded.p99)}; ${JSON.stringify(Object.fromEntries(finalOutcomes))}`,
  );
  discovery.close();
  await tick();
  const watchesAfterClose = kernelWatchCount();

  // The ended tasks' directories made again, never run: the agent below sees 1000 fresh tasks.
  for (let i = 0; i < FINALS + FINALS_UNDER_LOAD; i++) {
    for (let k = 0; ; k++) {
      try {
        rmdirAll(taskPath(i));
        break;
      } catch (err) {
        if (k > 100) throw err;
        await sleep(10);
      }
    }
    mkdirAll(taskPath(i));
    sleepers[i] = sleeperIn(taskPath(i));
  }
  await sleep(500);

  // 4. the agent as a child process over the same trees (--root: a directory of links to them)
  linkDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocm-bdisc-root-'));
  for (const c of V1) fs.symlinkSync(`${CG}/${c}/${BASE}`, path.join(linkDir, c));
  fs.symlinkSync(`${CG}/unified/${BASE}`, path.join(linkDir, 'unified'));
  const port = await freePort();
  // The built agent, as deployed (tsx's loader thread alone costs ~0.2 % of a core idle).
  const cli = path.join(REPO, 'dist/cli/main.js');
  if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: npm run build first (npm run bench:discovery does)`);
  const agent = spawn(
    process.execPath,
    [cli, '--root', linkDir, '--layouts', 'containerd', '--exporter', 'prometheus', '--prometheus-host', '127.0.0.1', '--prometheus-port', String(port)],
    {
      cwd: REPO,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, OTEL_METRICS_EXPORTER: '' },
    },
  );
  children.add(agent);
  let agentErr = '';
  agent.stderr?.setEncoding('utf8');
  agent.stderr?.on('data', (d: string) => (agentErr += d));
  const startDeadline = Date.now() + 30_000;
  while (!/Prometheus metrics at/.test(agentErr)) {
    if (agent.exitCode !== null || Date.now() > startDeadline) throw new Error(`the agent did not start: ${agentErr}`);
    await sleep(50);
  }
  const m = /discovering .*: (\d+) found, (\d+) watches/.exec(agentErr);
  const agentFound = Number(m?.[1]);
  const agentWatchesLogged = Number(m?.[2]);
  const scrape = async (): Promise<number> => {
    const t = performance.now();
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    const body = await res.text();
    if (!res.ok || !body.includes('container_cpu')) throw new Error(`scrape: HTTP ${res.status}, ${body.length} bytes`);
    return performance.now() - t;
  };
  await scrape(); // the first collection (reads every task once)
  await sleep(2000);
  const agentKernelWatches = kernelWatchCount(agent.pid as number);
  // Idle: no scrapes (discovery's own cost: rescans, timers); then a scrape every 10 s.
  let a0 = procCpuS(agent.pid as number);
  let aw0 = performance.now();
  await sleep(IDLE_S * 1000);
  const agentIdleNoScrape = ((procCpuS(agent.pid as number) - a0) / ((performance.now() - aw0) / 1000)) * 100;
  a0 = procCpuS(agent.pid as number);
  aw0 = performance.now();
  const agentScrapes: number[] = [];
  await everyTenSeconds(async () => void agentScrapes.push(await scrape()));
  const agentIdle = ((procCpuS(agent.pid as number) - a0) / ((performance.now() - aw0) / 1000)) * 100;
  agent.kill('SIGTERM');
  await new Promise((r) => agent.once('exit', r));
  console.log(
    `agent: ${agentFound} tasks found, ${agentKernelWatches} watches, ${agentIdleNoScrape.toFixed(3)}% of a core without scrapes, ${agentIdle.toFixed(3)}% with a scrape every 10 s`,
  );

  // Table and results
  rows.push(
    [
      'add latency p50 / p99 / max (1000 mkdirs)',
      `${ms(add.p50)} / ${ms(add.p99)} / ${ms(add.max)}`,
      `p99 < ${TARGET.addP99Ms} ms: ${verdict(add.p99 < TARGET.addP99Ms)}`,
    ],
    [
      `  during back-to-back collections (${ADDS_UNDER_LOAD})`,
      `${ms(addLoaded.p50)} / ${ms(addLoaded.p99)} / ${ms(addLoaded.max)}`,
      `(${collectionsDuringAdds} collections)`,
    ],
    [
      `final-reading latency p50 / p99 / max (${FINALS} kills)`,
      `${ms(fin.p50)} / ${ms(fin.p99)} / ${ms(fin.max)}`,
      `p99 < ${TARGET.finalP99Ms} ms: ${verdict(fin.p99 < TARGET.finalP99Ms)}`,
    ],
    [
      `  during back-to-back collections (${FINALS_UNDER_LOAD})`,
      `${ms(finLoaded.p50)} / ${ms(finLoaded.p99)} / ${ms(finLoaded.max)}`,
      `(${collectionsDuringFinals} collections)`,
    ],
    [
      'watches (inotify + epoll), 1000 live tasks (Discovery / kernel)',
      `${watches.discovery} / ${watches.kernel}`,
      `root + namespace + 1000 = ${watches.expected}: ${verdict(watches.discovery === watches.expected && watches.kernel === watches.expected)}`,
    ],
    [
      `  after ${FINALS + FINALS_UNDER_LOAD} tasks ended`,
      `${watchesAfterFinals.discovery} / ${watchesAfterFinals.kernel}`,
      `${watchesAfterFinals.expected}: ${verdict(watchesAfterFinals.discovery === watchesAfterFinals.expected && watchesAfterFinals.kernel === watchesAfterFinals.expected)}`,
    ],
    ['  after close()', `${watchesAfterClose}`, verdict(watchesAfterClose === 0)],
    [
      'idle CPU, in-process, no scrapes (discovery + engine + tsx)',
      `${idleNoScrape.toFixed(3)} % of a core`,
      `< ${TARGET.idleCpuPct}%: ${verdict(idleNoScrape < TARGET.idleCpuPct)}`,
    ],
    [
      '  of which the rescan every 10 s (CPU per rescan)',
      `${ms(rescanMs)} = ${(rescanMs / 100).toFixed(3)} % of a core`,
      `(1000 never-run tasks: ${ms(rescanEmptyMs)} = ${(rescanEmptyMs / 100).toFixed(3)} %)`,
    ],
    // Not idle: reading 1000 cgroups per collection is the work asked for; shown for scale.
    [
      'CPU, in-process, a collection every 10 s',
      `${idleScrape.toFixed(3)} % of a core`,
      `not idle: collections of 1000 tasks, ${scrapeMs.map((x) => x.toFixed(0)).join(', ')} ms`,
    ],
    [
      'idle CPU, the agent process (dist/), no scrapes',
      `${agentIdleNoScrape.toFixed(3)} % of a core`,
      `< ${TARGET.idleCpuPct}%: ${verdict(agentIdleNoScrape < TARGET.idleCpuPct)}`,
    ],
    [
      'CPU, the agent process, a scrape every 10 s',
      `${agentIdle.toFixed(3)} % of a core`,
      `not idle: scrapes of 1000 tasks, ${agentScrapes.map((x) => x.toFixed(0)).join(', ')} ms`,
    ],
    [
      'agent: tasks found / watches (log / kernel)',
      `${agentFound} / ${agentWatchesLogged} / ${agentKernelWatches}`,
      verdict(agentFound === TASKS && agentKernelWatches === TASKS + 2),
    ],
  );
  const w = [Math.max(...rows.map((r) => r[0].length)), Math.max(...rows.map((r) => r[1].length))];
  console.log(`\nDiscovery, ${TASKS} containerd tasks on a hybrid host (${os.cpus().length} CPUs, kernel ${os.release()})`);
  const [kw = 0, vw = 0] = w;
  for (const [k, v, t] of rows) console.log(`  ${k.padEnd(kw)}  ${v.padEnd(vw)}  ${t}`);
  if (errors.length) console.log(`discovery errors: ${errors.length}: ${errors.slice(0, 3).join('; ')}`);

  Object.assign(results, {
    addLatencyMs: add,
    addLatencyUnderLoadMs: { ...addLoaded, collections: collectionsDuringAdds },
    finalLatencyMs: fin,
    finalLatencyUnderLoadMs: { ...finLoaded, collections: collectionsDuringFinals },
    finalOutcomes: Object.fromEntries(finalOutcomes),
    watches: { live: watches, afterFinals: watchesAfterFinals, afterClose: watchesAfterClose },
    rescanCpuMs: { populated: rescanMs, neverRun: rescanEmptyMs },
    idleCpuPercentOfCore: {
      inProcessNoScrapes: idleNoScrape,
      inProcessScrapeEvery10s: idleScrape,
      agentNoScrapes: agentIdleNoScrape,
      agentScrapeEvery10s: agentIdle,
      windowS: IDLE_S,
    },
    collectionMs: { inProcess: scrapeMs, agentScrapes },
    agent: { found: agentFound, watchesLogged: agentWatchesLogged, kernelWatches: agentKernelWatches },
    discoveryErrors: errors.length,
    targets: TARGET,
    pass: {
      addP99: add.p99 < TARGET.addP99Ms,
      finalP99: fin.p99 < TARGET.finalP99Ms,
      idleCpuNoScrapes: idleNoScrape < TARGET.idleCpuPct,
      agentIdleCpuNoScrapes: agentIdleNoScrape < TARGET.idleCpuPct,
      watchesBounded: watches.kernel === watches.expected && watchesAfterFinals.kernel === watchesAfterFinals.expected && watchesAfterClose === 0,
    },
  });
  fs.mkdirSync(path.join(REPO, 'bench/results'), { recursive: true });
  const file = path.join(REPO, 'bench/results/discovery.json');
  fs.writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nwrote ${path.relative(REPO, file)}`);
} finally {
  // Killed processes leave their cgroups once reaped: let the event loop reap them first.
  const exits = [...children].map((c) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : c.once('exit', r))));
  for (const c of children) c.kill('SIGKILL');
  await Promise.race([Promise.all(exits), sleep(10_000)]);
  cleanup();
}
