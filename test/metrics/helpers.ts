/**
 * Shared helpers for the engine tests: a test MetricReader, point lookup in collected
 * ResourceMetrics, temporary cgroup2-like trees built from the kernel fixtures, real v1
 * cgroups (root only) with a CPU-burning child, and an event-loop stall monitor.
 */
import type { Attributes, BatchObservableCallback, BatchObservableResult, HrTime, Meter, Observable } from '@opentelemetry/api';
import { MetricReader, type DataPoint, type MetricData, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const FIXTURES = path.join(REPO, 'test/fixtures');
/** cgroup2 directories from a 6.18 kernel; each can be a `root` with tasks at cgroup '/'. */
export const V2 = {
  loaded: path.join(FIXTURES, 'cgroup-v2-kernel-6.18/loaded'),
  afterExit: path.join(FIXTURES, 'cgroup-v2-kernel-6.18/after_exit'),
  self: path.join(FIXTURES, 'cgroup-v2-kernel-6.18/self'),
  root: path.join(FIXTURES, 'cgroup-v2-kernel-6.18/root'),
} as const;
export const V1_TREE = path.join(FIXTURES, 'cgroup-v1-kernel-6.18');

/** The values of the fixture `loaded` (cgroup-v2-kernel-6.18/loaded), as exported. */
export const LOADED = {
  cpuUser: 0.840607,
  cpuSystem: 1.130241,
  periods: 40,
  throttledPeriods: 39,
  throttledTime: 3.269141,
  cpuLimit: 0.5,
  memoryUsage: 2117632,
  memoryLimit: 199999488,
  memoryPeak: 96116736,
  pids: 2,
  pidsLimit: 64,
  diskReadBytes: 1306624,
  diskWriteBytes: 209715200,
} as const;
/** The values of the fixture `after_exit`. */
export const AFTER_EXIT = { cpuUser: 0.892034, cpuSystem: 1.207294, memoryUsage: 1994752 } as const;

/** A MetricReader that collects only when asked (a reader must belong to a MeterProvider to collect). */
export class TestReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function hrMs(t: HrTime): number {
  return t[0] * 1000 + t[1] / 1e6;
}

export function metricsOf(rm: ResourceMetrics): MetricData[] {
  return rm.scopeMetrics.flatMap((s) => s.metrics);
}

export function metric(rm: ResourceMetrics, name: string): MetricData | undefined {
  return metricsOf(rm).find((m) => m.descriptor.name === name);
}

/** Every point of `name` (numeric metrics only). */
export function points(rm: ResourceMetrics, name: string): Array<DataPoint<number>> {
  const out: Array<DataPoint<number>> = [];
  for (const m of metricsOf(rm)) if (m.descriptor.name === name) out.push(...(m.dataPoints as Array<DataPoint<number>>));
  return out;
}

function matches(a: Attributes, want: Attributes): boolean {
  for (const [k, v] of Object.entries(want)) if (a[k] !== v) return false;
  return true;
}

/** Points of `name` for task `id` whose attributes include `attrs`. */
export function taskPoints(rm: ResourceMetrics, name: string, id: string, attrs: Attributes = {}): Array<DataPoint<number>> {
  return points(rm, name).filter((p) => p.attributes['container.id'] === id && matches(p.attributes, attrs));
}

/** The single value of `name` for `id` (asserts there is at most one such point). */
export function taskValue(rm: ResourceMetrics, name: string, id: string, attrs: Attributes = {}): number | undefined {
  const ps = taskPoints(rm, name, id, attrs);
  assert.ok(ps.length <= 1, `${ps.length} points of ${name} for ${id} ${JSON.stringify(attrs)}: duplicate series`);
  return ps[0]?.value;
}

/** A value of the component's own metrics (cgroup_metrics.*), with attributes matching `attrs`. */
export function selfValue(rm: ResourceMetrics, name: string, attrs: Attributes = {}): number | undefined {
  const ps = points(rm, name).filter((p) => matches(p.attributes, attrs));
  assert.ok(ps.length <= 1, `${ps.length} points of ${name} ${JSON.stringify(attrs)}`);
  return ps[0]?.value;
}

/** container.id values present in `name` (default container.cpu.time). */
export function idsIn(rm: ResourceMetrics, name = 'container.cpu.time'): Set<string> {
  return new Set(points(rm, name).map((p) => String(p.attributes['container.id'])));
}

/** Every point of every metric in `rm`, for scans (overflow attributes, duplicates). */
export function allPoints(rm: ResourceMetrics): Array<{ name: string; point: DataPoint<number> }> {
  return metricsOf(rm).flatMap((m) => (m.dataPoints as Array<DataPoint<number>>).map((point) => ({ name: m.descriptor.name, point })));
}

/** Asserts no two points of one metric share an attribute set (a duplicate series). */
export function assertNoDuplicateSeries(rm: ResourceMetrics): void {
  for (const m of metricsOf(rm)) {
    const seen = new Set<string>();
    for (const p of m.dataPoints) {
      const k = JSON.stringify(Object.entries(p.attributes).sort(([a], [b]) => a.localeCompare(b)));
      assert.ok(!seen.has(k), `duplicate series in ${m.descriptor.name}: ${k}`);
      seen.add(k);
    }
  }
}

export async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

export function randomName(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

/**
 * A temporary cgroup2-like tree in os.tmpdir(): the root holds a copy of the fixture `root`'s
 * top-level files (so that it is recognised as a cgroup2 directory) and every task gets a
 * sub-directory that is a copy of `source` (default: the `loaded` fixture).
 */
export class TempV2Tree {
  readonly root: string;
  constructor() {
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), 'ocm-tree-'));
    copyFlat(V2.root, this.root);
  }

  /** Creates `/<name>` as a copy of `source`, optionally only the files `only`. Returns the cgroup path. */
  addCgroup(name: string, source: string = V2.loaded, only?: readonly string[]): string {
    const dir = path.join(this.root, name);
    fs.mkdirSync(dir);
    copyFlat(source, dir, only);
    return `/${name}`;
  }

  dir(name: string): string {
    return path.join(this.root, name);
  }

  /** Replaces a file with a FIFO (mkfifo(1)): nobody writes to it. */
  fifo(name: string, file: string): string {
    const p = path.join(this.root, name, file);
    fs.rmSync(p, { force: true });
    execFileSync('mkfifo', [p]);
    assert.ok(fs.statSync(p).isFIFO(), `${p} is not a FIFO`);
    return p;
  }

  cleanup(): void {
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

function copyFlat(from: string, to: string, only?: readonly string[]): void {
  for (const e of fs.readdirSync(from, { withFileTypes: true })) {
    if (!e.isFile()) continue;
    if (only && !only.includes(e.name)) continue;
    // read + write (not copyFile): the copies are writable even though the fixtures are read-only.
    fs.writeFileSync(path.join(to, e.name), fs.readFileSync(path.join(from, e.name)));
  }
}

// ---------------------------------------------------------------------------------------------
// Real cgroup v1 (root only)

export const V1_MOUNT = '/sys/fs/cgroup';

/**
 * Fails (never skips) with a clear message unless this process is root and the v1
 * hierarchies `controllers` are mounted and writable under /sys/fs/cgroup.
 */
export function requireV1(controllers: readonly string[]): void {
  const uid = process.getuid?.();
  if (uid !== 0)
    assert.fail(`this test needs root to create cgroups under ${V1_MOUNT} (running as uid ${uid}); run the suite as root on a host with cgroup v1 hierarchies`);
  const mountinfo = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  for (const c of controllers) {
    const dir = path.join(V1_MOUNT, c);
    const mounted = mountinfo.split('\n').some((l) => {
      const [left, right] = l.split(' - ');
      return right?.startsWith('cgroup ') && right.split(' ')[2]?.split(',').includes(c) && left?.split(' ')[4] === dir;
    });
    if (!mounted) assert.fail(`this test needs the cgroup v1 "${c}" hierarchy mounted at ${dir} (see /proc/self/mountinfo)`);
    try {
      fs.accessSync(dir, fs.constants.W_OK);
    } catch {
      assert.fail(`this test needs ${dir} to be writable (create cgroups there)`);
    }
  }
}

/** One real v1 cgroup, created in several hierarchies under the same name. */
export class V1Cgroup {
  readonly name: string;
  readonly path: string;
  private removed = false;

  constructor(
    readonly controllers: readonly string[] = ['cpu', 'cpuacct', 'memory', 'pids'],
    prefix = 'ocm-final',
  ) {
    requireV1(controllers);
    this.name = randomName(prefix);
    this.path = `/${this.name}`;
    for (const c of controllers) fs.mkdirSync(this.dir(c));
  }

  dir(controller: string): string {
    return path.join(V1_MOUNT, controller, this.name);
  }

  /** Moves a process into the cgroup in every hierarchy. */
  enter(pid: number): void {
    for (const c of this.controllers) fs.writeFileSync(path.join(this.dir(c), 'cgroup.procs'), `${pid}\n`);
  }

  /**
   * CPU time as the kernel says now, in ns: `usage` (cpuacct.usage, exact) and the tick-sampled
   * `sampledUser`/`sampledSys` (cpuacct.usage_user/usage_sys). `user`/`sys`: `usage` divided in
   * the ratio of the sampled counters, for callers that compare with a tolerance; an exact check
   * of a first reading's split is assertV1FirstSplit (two relations to the kernel files, not the
   * division the code under test does).
   */
  cpuNs(): { user: number; sys: number; usage: number; sampledUser: number; sampledSys: number } {
    const read = (f: string): number => Number(fs.readFileSync(path.join(this.dir('cpuacct'), f), 'utf8').trim());
    const usage = read('cpuacct.usage');
    const sampledUser = read('cpuacct.usage_user');
    const sampledSys = read('cpuacct.usage_sys');
    const sampled = sampledUser + sampledSys;
    const sys = sampled > 0 ? (usage * sampledSys) / sampled : 0;
    return { user: usage - sys, sys, usage, sampledUser, sampledSys };
  }

  /** rmdir in every hierarchy (retried while the kernel still holds an exiting process). Idempotent. */
  async remove(): Promise<void> {
    if (this.removed) return;
    const errors: string[] = [];
    for (const c of this.controllers) {
      const dir = this.dir(c);
      for (let attempt = 0; ; attempt++) {
        try {
          if (fs.existsSync(dir)) fs.rmdirSync(dir);
          break;
        } catch (err) {
          if (attempt >= 100) {
            errors.push(`${dir}: ${(err as Error).message}`);
            break;
          }
          await sleep(20);
        }
      }
    }
    this.removed = true;
    if (errors.length) throw new Error(`could not remove cgroup ${this.name}: ${errors.join('; ')}`);
  }
}

/**
 * A v1 reading with no earlier one (README: "the exact cpuacct.usage, each increase split by mode
 * in the ratio of the increases of the tick-sampled usage_user/usage_sys"), checked against the
 * kernel's files by two relations: user + system = cpuacct.usage, and user : system =
 * usage_user : usage_sys (cross-multiplied). Values in seconds, kernel counters in ns.
 */
export function assertV1FirstSplit(userS: number, systemS: number, kernel: { usage: number; sampledUser: number; sampledSys: number }, what: string): void {
  const usageS = kernel.usage / 1e9;
  assert.ok(Math.abs(userS + systemS - usageS) <= 1e-9 * Math.max(1, usageS), `${what}: user ${userS} + system ${systemS} s != cpuacct.usage ${usageS} s`);
  // user × usage_sys = system × usage_user, relative to the larger side.
  const left = userS * kernel.sampledSys;
  const right = systemS * kernel.sampledUser;
  assert.ok(
    Math.abs(left - right) <= 1e-9 * Math.max(Math.abs(left), Math.abs(right), 1),
    `${what}: user ${userS} : system ${systemS} is not usage_user ${kernel.sampledUser} : usage_sys ${kernel.sampledSys}`,
  );
}

/** A child that waits for a line on stdin, then burns `burnCpuMs` of its own CPU time, reports it and exits. */
export interface Burner {
  child: ChildProcess;
  pid: number;
  /** Starts the burn; resolves when the child has exited, with the CPU time it burnt (ms) and the wall time. */
  burn(): Promise<{ cpuMs: number; wallMs: number }>;
  kill(): void;
}

const BURNER_SOURCE = `
const ms = Number(process.argv[1]);
process.stdin.once('data', () => {
  const t0 = process.cpuUsage();
  const w0 = Date.now();
  let x = 0;
  for (;;) {
    for (let i = 0; i < 1e5; i++) x += Math.sqrt(i);
    const u = process.cpuUsage(t0);
    if ((u.user + u.system) / 1000 >= ms) break;
  }
  const u = process.cpuUsage(t0);
  process.stdout.write(JSON.stringify({ cpuMs: (u.user + u.system) / 1000, wallMs: Date.now() - w0, x }) + '\\n');
  process.exit(0);
});
process.stdout.write('ready\\n');
`;

export async function spawnBurner(burnCpuMs: number): Promise<Burner> {
  const child = spawn(process.execPath, ['-e', BURNER_SOURCE, String(burnCpuMs)], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await waitFor(() => out.includes('ready\n') || child.exitCode !== null, 10_000, 'the burner child to start');
  assert.ok(child.pid !== undefined && child.exitCode === null, 'burner child failed to start');
  return {
    child,
    pid: child.pid,
    async burn() {
      child.stdin?.write('go\n');
      const code = await exited;
      assert.equal(code, 0, `burner exited with ${code}`);
      const line = out.split('\n').find((l) => l.startsWith('{'));
      assert.ok(line, `burner printed no result: ${JSON.stringify(out)}`);
      return JSON.parse(line) as { cpuMs: number; wallMs: number };
    },
    kill() {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Event loop

/** Longest event-loop stall while it runs: a 1 ms ticker and the perf_hooks histogram. */
export function stallMonitor(): { stop(): { tickerMaxGapMs: number; histogramMaxMs: number } } {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  let last = performance.now();
  let maxGap = 0;
  const t = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
  }, 1);
  return {
    stop() {
      clearInterval(t);
      maxGap = Math.max(maxGap, performance.now() - last);
      h.disable();
      return { tickerMaxGapMs: maxGap, histogramMaxMs: h.max / 1e6 };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// A Meter wrapper that sees every observation of batch callbacks (a behavioural spy).

export interface ObservationLog {
  /** How many times the batch callback ran. */
  invocations: number;
  /** container.id → the invocation numbers in which it was observed. */
  byTask: Map<string, Set<number>>;
}

export function spyMeter(meter: Meter): { meter: Meter; log: ObservationLog } {
  const log: ObservationLog = { invocations: 0, byTask: new Map() };
  const wrapped = new Map<BatchObservableCallback, BatchObservableCallback>();
  const spy = new Proxy(meter, {
    get(target, prop) {
      if (prop === 'addBatchObservableCallback') {
        return (cb: BatchObservableCallback, observables: Observable[]) => {
          const w: BatchObservableCallback = (result: BatchObservableResult) => {
            const n = ++log.invocations;
            return cb({
              observe(o: Observable, value: number, attributes?: Attributes) {
                const id = attributes?.['container.id'];
                if (typeof id === 'string') {
                  let s = log.byTask.get(id);
                  if (!s) {
                    s = new Set();
                    log.byTask.set(id, s);
                  }
                  s.add(n);
                }
                result.observe(o, value, attributes);
              },
            });
          };
          wrapped.set(cb, w);
          target.addBatchObservableCallback(w, observables);
        };
      }
      if (prop === 'removeBatchObservableCallback') {
        return (cb: BatchObservableCallback, observables: Observable[]) => target.removeBatchObservableCallback(wrapped.get(cb) ?? cb, observables);
      }
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { meter: spy, log };
}
