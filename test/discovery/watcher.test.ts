/**
 * Discovery on REAL cgroupfs trees made by the test, in three shapes of this (hybrid) host:
 *
 *  - hybrid: task directories in the v1 cpu, cpuacct, memory and pids hierarchies plus their
 *    cgroup2 twin under /sys/fs/cgroup/unified (the final reading on `populated 0`);
 *  - v2: a sub-tree of the real cgroup2 mount used as the whole root (mode v2);
 *  - v1: the v1 hierarchies alone (no cgroup2: cgroup.procs polled for emptiness).
 *
 * Each tree lives in its own randomly named sub-directory of every hierarchy, used as the
 * hierarchy's root (CgroupMounts built by the test), so that cgroups made meanwhile by other
 * tests or benchmarks at the real roots cannot change what is discovered or counted; one test
 * runs on the host's real mounts as the agent does. Every test cleans up: processes killed,
 * directories removed bottom-up in every hierarchy, also when an assertion fails.
 *
 * Needs root and the hybrid mounts: without them every test fails saying so (never skips).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { after, describe, test, type TestContext } from 'node:test';
import { hostCgroupMounts, type CgroupMounts, type Hierarchy } from '../../src/cgroup/mounts.ts';
import type { CgroupStats } from '../../src/cgroup/types.ts';
import { DEFAULT_LAYOUTS, layoutsFrom, type DiscoveredTask, type Layout } from '../../src/discovery/layouts.ts';
import { Discovery, type DiscoveryEvent, type DiscoveryOptions } from '../../src/discovery/watcher.ts';
import { CgroupMetrics } from '../../src/metrics/cgroup-metrics.ts';
import { idsIn, requireV1, selfValue, sleep, spawnBurner, taskPoints, waitFor, type Burner } from '../metrics/helpers.ts';
import { rmdirRetrySync } from '../helpers/cgroupfs.ts';
import { kernelWatchCount } from '../helpers/watches.ts';

const CG = '/sys/fs/cgroup';
const V1_CONTROLLERS = ['cpu', 'cpuacct', 'memory', 'pids'] as const;
const UNIFIED = `${CG}/unified`;
type Shape = 'hybrid' | 'v2' | 'v1';
const SHAPES: readonly Shape[] = ['hybrid', 'v2', 'v1'];
/**
 * The rescan of these tests: far longer than any wait for an add, so an add can only come from
 * a directory watch's event (how soon it comes is measured in bench/discovery.ts, not here).
 */
const NO_RESCAN_MS = 600_000;
const EMPTY_POLL_MS = 20;

function requireHost(): void {
  requireV1(V1_CONTROLLERS);
  const mountinfo = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  const v2 = mountinfo.split('\n').some((l) => l.split(' ')[4] === UNIFIED && l.split(' - ')[1]?.startsWith('cgroup2 '));
  if (!v2) assert.fail(`these tests need the cgroup2 mount at ${UNIFIED} of a hybrid host (see /proc/self/mountinfo)`);
}

const hex64 = (): string => randomBytes(32).toString('hex');

// ---------------------------------------------------------------------------------------------
// Trees of real cgroups

const liveTrees = new Set<Tree>();
const liveChildren = new Set<{ kill(): void }>();

function cleanupAll(): void {
  for (const c of liveChildren) c.kill();
  liveChildren.clear();
  for (const t of [...liveTrees]) t.cleanup();
}
after(cleanupAll);
process.once('exit', cleanupAll);

/**
 * One tree: a random directory in every hierarchy of the shape, used as that hierarchy's root.
 * `host` uses the real roots (the agent's view) and only ever removes what it made.
 */
class Tree {
  readonly base: string;
  /** The root directory of this tree in each hierarchy: v1 controllers first, then cgroup2. */
  readonly roots: string[];
  readonly mounts: CgroupMounts;
  /** Relative paths made, in creation order. */
  private made: string[] = [];
  private cleaned = false;

  constructor(readonly shape: Shape | 'host') {
    requireHost();
    if (shape === 'host') {
      this.base = '';
      this.roots = [...V1_CONTROLLERS, 'blkio', 'unified'].map((c) => `${CG}/${c}`);
      this.mounts = hostCgroupMounts();
      liveTrees.add(this);
      return;
    }
    this.base = `ocm-disc-${shape}-${randomBytes(5).toString('hex')}`;
    const v1 = shape === 'v2' ? [] : V1_CONTROLLERS.map((c) => c as string);
    this.roots = [...v1.map((c) => `${CG}/${c}/${this.base}`), ...(shape === 'v1' ? [] : [`${UNIFIED}/${this.base}`])];
    liveTrees.add(this);
    for (const r of this.roots) fs.mkdirSync(r);
    const hier = (dir: string, controllers: string[]): Hierarchy => ({ mountPoint: dir, root: '/', controllers });
    const v2 = shape === 'v1' ? undefined : hier(`${UNIFIED}/${this.base}`, []);
    const map = new Map<string, Hierarchy>(v1.map((c) => [c, hier(`${CG}/${c}/${this.base}`, [c])]));
    this.mounts =
      shape === 'v2' ? { mode: 'v2', v1: new Map(), v2: v2 as Hierarchy } : shape === 'hybrid' ? { mode: 'hybrid', v1: map, v2 } : { mode: 'v1', v1: map };
  }

  /** The hierarchy roots that are cgroup v1 / cgroup2. */
  get v1Roots(): string[] {
    return this.roots.filter((r) => !r.startsWith(`${UNIFIED}`));
  }
  get v2Roots(): string[] {
    return this.roots.filter((r) => r.startsWith(`${UNIFIED}`));
  }

  /** mkdir -p of `rel` in the given hierarchy roots (default all), recording what it made. */
  mkdir(rel: string, roots: readonly string[] = this.roots): void {
    const segs = rel.split('/').filter(Boolean);
    for (let i = 1; i <= segs.length; i++) {
      const p = `/${segs.slice(0, i).join('/')}`;
      let madeHere = false;
      for (const r of roots) {
        if (fs.existsSync(r + p)) continue;
        fs.mkdirSync(r + p);
        madeHere = true;
      }
      if (madeHere && !this.made.includes(p)) this.made.push(p);
    }
  }

  /** Whether a message names a directory this tree made. */
  madeAnything(message: string): boolean {
    return this.made.some((p) => message.includes(p));
  }

  /** Moves a process into `rel` in every hierarchy (cgroup2 included). */
  enter(rel: string, pid: number): void {
    for (const r of this.roots) fs.writeFileSync(`${r}${rel}/cgroup.procs`, `${pid}\n`);
  }

  /** rmdir of `rel` (and what was made below it) in every hierarchy, at once, no retry. */
  rmdirNow(rel: string): void {
    for (const p of this.made.filter((m) => m === rel || m.startsWith(`${rel}/`)).reverse()) {
      for (const r of this.roots) if (fs.existsSync(r + p)) fs.rmdirSync(r + p);
    }
    this.made = this.made.filter((m) => !(m === rel || m.startsWith(`${rel}/`)));
  }

  /** rmdir with retries while the kernel still holds exiting processes. */
  async rmdir(rel: string): Promise<void> {
    for (let i = 0; ; i++) {
      try {
        this.rmdirNow(rel);
        return;
      } catch (err) {
        if (i >= 100) throw err;
        await sleep(20);
      }
    }
  }

  cleanup(): void {
    if (this.cleaned) return;
    this.cleaned = true;
    liveTrees.delete(this);
    const errors: string[] = [];
    const dirs = [...this.made.reverse()];
    for (const p of dirs) for (const r of this.roots) rmdirRetrySync(r + p, errors);
    if (this.shape !== 'host') for (const r of this.roots) rmdirRetrySync(r, errors);
    if (errors.length) throw new Error(`cleanup of ${this.base || 'host tree'} left: ${errors.join('; ')}`);
  }
}

async function burner(ms: number): Promise<Burner> {
  const b = await spawnBurner(ms);
  liveChildren.add(b);
  b.child.once('exit', () => liveChildren.delete(b));
  return b;
}

/** A sleeping process (killed at cleanup). */
function sleeper(): ChildProcess {
  const child = spawn('sleep', ['600'], { stdio: 'ignore' });
  const handle = { kill: () => void (child.exitCode === null && child.signalCode === null && child.kill('SIGKILL')) };
  liveChildren.add(handle);
  child.once('exit', () => liveChildren.delete(handle));
  assert.ok(child.pid, 'spawn sleep failed');
  return child;
}

// ---------------------------------------------------------------------------------------------
// Discovery under test, its events with their times

type Rec<T extends DiscoveryEvent['type'] = DiscoveryEvent['type']> = { at: number; e: Extract<DiscoveryEvent, { type: T }> };

class Recorder {
  readonly all: Rec[] = [];
  private waiters: Array<{ pred: (r: Rec) => boolean; resolve: (r: Rec) => void }> = [];

  readonly onEvent = (e: DiscoveryEvent): void => {
    const r: Rec = { at: performance.now(), e };
    this.all.push(r);
    for (const w of [...this.waiters]) {
      if (w.pred(r)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(r);
      }
    }
  };

  of<T extends DiscoveryEvent['type']>(type: T, p?: string): Array<Rec<T>> {
    return this.all.filter((r) => r.e.type === type && (p === undefined || ('path' in r.e && r.e.path === p))) as unknown as Array<Rec<T>>;
  }

  /** The nth (1-based) event of `type` for path `p`, now or within `timeoutMs`. */
  wait<T extends DiscoveryEvent['type']>(type: T, p: string, timeoutMs = 3000, nth = 1): Promise<Rec<T>> {
    const have = this.of(type, p);
    if (have.length >= nth) return Promise.resolve(have[nth - 1] as Rec<T>);
    let seen = have.length;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(
          new Error(
            `no '${type}' event #${nth} for ${p} within ${timeoutMs} ms; events: ${JSON.stringify(this.all.map((r) => `${r.e.type} ${'path' in r.e ? r.e.path : ''}`))}`,
          ),
        );
      }, timeoutMs);
      const done = (r: Rec): void => {
        clearTimeout(timer);
        resolve(r as unknown as Rec<T>);
      };
      this.waiters.push({
        pred: (r) => r.e.type === type && 'path' in r.e && r.e.path === p && ++seen >= nth,
        resolve: done,
      });
    });
  }

  errors(): string[] {
    return this.of('error').map((r) => `${r.e.path}: ${r.e.message}`);
  }
}

interface Harness {
  tree: Tree;
  engine: CgroupMetrics;
  discovery: Discovery;
  rec: Recorder;
  producer: ReturnType<CgroupMetrics['producer']>;
}

/** A tree, an engine like the agent's (onGone: stop), a producer and a started Discovery; cleaned up after `fn`. */
async function withDiscovery(
  shape: Shape | 'host',
  layouts: Layout[],
  options: Omit<DiscoveryOptions, 'layouts' | 'onEvent'>,
  fn: (h: Harness) => Promise<void>,
): Promise<void> {
  const tree = new Tree(shape);
  const rec = new Recorder();
  const engine = shape === 'host' ? new CgroupMetrics({ onGone: 'stop' }) : new CgroupMetrics({ mounts: tree.mounts, onGone: 'stop' });
  const producer = engine.producer();
  const discovery = new Discovery(engine, { emptyPollMs: EMPTY_POLL_MS, ...options, layouts, onEvent: rec.onEvent });
  try {
    discovery.start();
    await fn({ tree, engine, discovery, rec, producer });
    // On the host's real roots, directories of others may vanish mid-scan: only ours count there.
    const ours = shape === 'host' ? rec.errors().filter((e) => tree.madeAnything(e)) : rec.errors();
    assert.deepEqual(ours, [], 'no discovery errors');
  } finally {
    discovery.close();
    for (const c of liveChildren) c.kill();
    await sleep(20);
    tree.cleanup();
  }
}

/**
 * The kernel's count, once the event loop has turned: a watch closed inside its own inotify
 * callback (the final reading closes the cgroup.events watch from its change event, and what
 * that resolves runs as microtasks in the same callback) is removed by libuv only when the
 * callback returns.
 */
async function kernelWatches(): Promise<number> {
  await new Promise((resolve) => setImmediate(resolve));
  return kernelWatchCount();
}

/** For failure messages: the inotify watches (wd, inode) of this process and the inodes of some paths. */
function watchReport(paths: readonly string[]): string {
  const lines: string[] = [];
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${fd}`) !== 'anon_inode:inotify') continue;
      lines.push(
        ...fs
          .readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8')
          .split('\n')
          .filter((l) => l.startsWith('inotify wd:'))
          .map((l) => l.replace(/ mask:.*$/, '')),
      );
    } catch {
      // closed meanwhile
    }
  }
  const inodes = paths.map((p) => {
    try {
      return `${p} ino:${fs.statSync(p).ino.toString(16)}`;
    } catch {
      return `${p} (gone)`;
    }
  });
  return `\nwatches:\n  ${lines.join('\n  ')}\ninodes:\n  ${inodes.join('\n  ')}`;
}

/** CPU time in a reading: ns (v1) or µs (v2), > 0 once anything ran. */
function cpuUsed(stats: CgroupStats | undefined): number {
  if (!stats?.cpu) return 0;
  if (stats.version === 2) return stats.cpu.usageUsec ?? 0;
  const c = stats.cpu;
  return (c.usageUserNs ?? 0) + (c.usageSysNs ?? 0) || ((c.userTicks ?? 0) + (c.systemTicks ?? 0)) * 1e7;
}

function parentOf(p: string): string {
  return p.slice(0, p.lastIndexOf('/')) || '/';
}

// ---------------------------------------------------------------------------------------------
// The layouts' task paths

const JOBS = '^/jobs/(?<namespace>[^/]+)/(?<id>[^/]+)$';

interface Case {
  name: string;
  layouts: () => Layout[];
  task: string;
  want: DiscoveredTask;
  /** Directories that must be watched once the task's parents exist: root first. */
  watched: string[];
}

function cases(): Case[] {
  const id = hex64();
  const uid = randomUUID();
  const uid_ = uid.replace(/-/g, '_');
  const defaults = (): Layout[] => layoutsFrom(DEFAULT_LAYOUTS);
  const k8sSlice = `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${uid_}.slice`;
  return [
    {
      name: 'containerd /<ns>/<id>',
      layouts: defaults,
      task: '/ocm-ns/redis-1',
      want: { layout: 'containerd', namespace: 'ocm-ns', id: 'redis-1', attributes: { 'container.runtime.name': 'containerd' } },
      watched: ['/', '/ocm-ns'],
    },
    {
      name: 'docker /docker/<64hex>',
      layouts: defaults,
      task: `/docker/${id}`,
      want: { layout: 'docker', namespace: 'moby', id, attributes: { 'container.runtime.name': 'docker' } },
      watched: ['/', '/docker'],
    },
    {
      name: 'docker /system.slice/docker-<64hex>.scope',
      layouts: defaults,
      task: `/system.slice/docker-${id}.scope`,
      want: { layout: 'docker', namespace: 'moby', id, attributes: { 'container.runtime.name': 'docker' } },
      watched: ['/', '/system.slice'],
    },
    {
      name: 'kubernetes cgroupfs /kubepods/burstable/pod<uid>/<64hex>',
      layouts: defaults,
      task: `/kubepods/burstable/pod${uid}/${id}`,
      want: { layout: 'kubernetes', namespace: 'k8s.io', id, attributes: { 'k8s.pod.uid': uid, 'k8s.pod.qos_class': 'burstable' } },
      watched: ['/', '/kubepods', '/kubepods/burstable', `/kubepods/burstable/pod${uid}`],
    },
    {
      name: 'kubernetes systemd .slice/cri-containerd-<64hex>.scope',
      layouts: defaults,
      task: `${k8sSlice}/cri-containerd-${id}.scope`,
      want: {
        layout: 'kubernetes',
        namespace: 'k8s.io',
        id,
        attributes: { 'k8s.pod.uid': uid, 'k8s.pod.qos_class': 'burstable', 'container.runtime.name': 'containerd' },
      },
      watched: ['/', '/kubepods.slice', '/kubepods.slice/kubepods-burstable.slice', k8sSlice],
    },
    {
      name: 'podman /machine.slice/libpod-<64hex>.scope',
      layouts: defaults,
      task: `/machine.slice/libpod-${id}.scope`,
      want: { layout: 'podman', namespace: 'podman', id, attributes: { 'container.runtime.name': 'podman' } },
      watched: ['/', '/machine.slice'],
    },
    {
      // Alone: with the default layouts containerd would take /jobs/<tenant> for a task of its own.
      name: `custom ${JOBS}`,
      layouts: () => layoutsFrom([], [JOBS]),
      task: '/jobs/tenant-a/job-7',
      want: { layout: 'custom', namespace: 'tenant-a', id: 'job-7', attributes: {} },
      watched: ['/', '/jobs', '/jobs/tenant-a'],
    },
  ];
}

async function discoverRunAndStop(t: TestContext, shape: Shape, c: Case): Promise<void> {
  await withDiscovery(shape, c.layouts(), { rescanIntervalMs: NO_RESCAN_MS }, async ({ tree, engine, discovery, rec, producer }) => {
    assert.equal(discovery.watchCount, 1, 'the root alone is watched at first');
    // The runtime makes the parents (namespace, QoS, pod directories) while discovery runs.
    tree.mkdir(parentOf(c.task));
    await waitFor(() => discovery.watchCount === c.watched.length, 2000, `watches on ${c.watched.join(', ')}`);
    assert.equal(
      await kernelWatches(),
      discovery.watchCount,
      'watches the kernel holds for this process (inotify + open cgroup.events) = Discovery.watchCount',
    );

    const t0 = performance.now();
    tree.mkdir(c.task);
    // Added on the directory watch's event (no rescan runs in this test).
    const added = await rec.wait('added', c.task, 2000);
    t.diagnostic(`mkdir → added ${(added.at - t0).toFixed(2)} ms`);
    assert.deepEqual(added.e.task, c.want);
    assert.ok(engine.has(c.want.id, c.want.namespace));
    const eventsWatch = shape === 'v1' ? 0 : 1;
    assert.equal(discovery.watchCount, c.watched.length + eventsWatch, 'one cgroup.events watch for the task (none on pure v1), no watch inside it');
    assert.equal(await kernelWatches(), discovery.watchCount);

    const b = await burner(40);
    tree.enter(c.task, b.pid);
    const burnt = await b.burn();
    const stopped = await rec.wait('stopped', c.task, 3000);
    assert.equal(stopped.e.trigger, shape === 'v1' ? 'empty' : 'populated');
    assert.equal(stopped.e.result.source, 'read', 'the final reading was read from the cgroup, not a fallback');
    assert.ok(
      cpuUsed(stopped.e.result.stats) > 0,
      `final reading has CPU time (burner used ${burnt.cpuMs.toFixed(0)} ms): ${JSON.stringify(stopped.e.result.stats?.cpu)}`,
    );
    assert.deepEqual(stopped.e.task, c.want);
    t.diagnostic(`exit → stopped ${(stopped.at - (t0 + 0)).toFixed(0)} ms after mkdir; trigger ${stopped.e.trigger}`);

    // The final reading reaches the exporter's next collection, once.
    const rm = (await producer.collect()).resourceMetrics;
    const cpuPoints = taskPoints(rm, 'container.cpu.time', c.want.id);
    assert.ok(cpuPoints.length > 0 && cpuPoints.reduce((s, p) => s + p.value, 0) > 0, 'container.cpu.time of the final reading exported');
    assert.equal(engine.size, 0);
    assert.equal(discovery.taskCount, 0);
    assert.equal(discovery.watchCount, c.watched.length, 'the cgroup.events watch is gone with the task');
    const roots = tree.roots;
    assert.equal(
      await kernelWatches(),
      discovery.watchCount,
      watchReport([
        ...roots.flatMap((r) => c.watched.map((w) => r + (w === '/' ? '' : w))),
        ...roots.flatMap((r) => [r + c.task, `${r}${c.task}/cgroup.events`]),
      ]),
    );

    // The runtime removes the directories after the final reading: nothing more happens.
    await tree.rmdir(c.task);
    await sleep(100);
    assert.equal(rec.of('stopped', c.task).length, 1, 'one final reading');
    assert.equal(rec.of('added', c.task).length, 1);
    assert.ok(!idsIn((await producer.collect()).resourceMetrics).has(c.want.id), 'its series are gone after delivery');
  });
}

for (const shape of SHAPES) {
  describe(`${shape}: each layout's task is discovered on its directory watch's event and read when its process exits`, () => {
    for (const c of cases()) test(c.name, (t) => discoverRunAndStop(t, shape, c));
  });
}

test('host: containerd tasks on the real host mounts (as the agent sees them)', async (t) => {
  const ns = `ocm-disc-host-${randomBytes(5).toString('hex')}`;
  await withDiscovery('host', layoutsFrom(['containerd']), { rescanIntervalMs: NO_RESCAN_MS }, async ({ tree, engine, rec }) => {
    assert.equal(engine.mounts.mode, 'hybrid');
    tree.mkdir(`/${ns}`);
    await sleep(50);
    const task = `/${ns}/web-1`;
    const t0 = performance.now();
    tree.mkdir(task);
    const added = await rec.wait('added', task, 2000);
    t.diagnostic(`mkdir → added ${(added.at - t0).toFixed(2)} ms`);
    assert.deepEqual(added.e.task, { layout: 'containerd', namespace: ns, id: 'web-1', attributes: { 'container.runtime.name': 'containerd' } });
    const b = await burner(40);
    tree.enter(task, b.pid);
    await b.burn();
    const stopped = await rec.wait('stopped', task, 3000);
    assert.equal(stopped.e.trigger, 'populated');
    assert.equal(stopped.e.result.source, 'read');
    assert.ok(cpuUsed(stopped.e.result.stats) > 0);
    assert.equal(stopped.e.result.stats?.version, 1);
    assert.ok(stopped.e.result.stats?.pressure, 'pressure read from the cgroup2 twin');
  });
});

// ---------------------------------------------------------------------------------------------
// Directories that vanish before the final reading

for (const shape of SHAPES) {
  test(`${shape}: a task directory removed before any final reading counts as missed: its first (young) reading before any collection, the periodic one after one`, async () => {
    await withDiscovery(shape, layoutsFrom(['containerd']), {}, async ({ tree, rec, producer, discovery }) => {
      tree.mkdir('/ns');
      await waitFor(() => discovery.watchCount === 2, 2000, 'the namespace watched');
      const first = (await producer.collect()).resourceMetrics;
      assert.equal(selfValue(first, 'cgroup_metrics.final_readings.missed'), 0);

      tree.mkdir('/ns/a');
      await rec.wait('added', '/ns/a');
      tree.rmdirNow('/ns/a');
      const a = await rec.wait('stopped', '/ns/a');
      assert.equal(a.e.trigger, 'removed');
      assert.equal(a.e.result.source, 'last-known', 'discovery adds with firstReading: never none for a task that was seen');
      assert.equal(a.e.result.lastKnown, 'young');
      assert.ok(a.e.result.stats);

      tree.mkdir('/ns/b');
      await rec.wait('added', '/ns/b');
      // Its first reading may wait a turn of the loop (a burst's later reads are sliced): taken
      // before the collection, the collection's reading is the last one.
      await sleep(50);
      const read = (await producer.collect()).resourceMetrics;
      assert.ok(idsIn(read).has('b'), 'b read by a collection');
      tree.rmdirNow('/ns/b');
      const b = await rec.wait('stopped', '/ns/b');
      assert.equal(b.e.trigger, 'removed');
      assert.equal(b.e.result.source, 'last-known');
      assert.equal(b.e.result.lastKnown, 'periodic');
      assert.ok(b.e.result.stats && b.e.result.timeMs !== undefined && b.e.result.timeMs <= Date.now());

      const rm = (await producer.collect()).resourceMetrics;
      assert.equal(selfValue(rm, 'cgroup_metrics.final_readings.missed'), 2, 'cgroup_metrics.final_readings.missed');
      for (const [source, n] of [
        ['read', 0],
        ['young', 1],
        ['periodic', 1],
        ['none', 0],
      ] as const)
        assert.equal(selfValue(rm, 'cgroup_metrics.final_readings.sources', { source }), n, `final_readings{source=${source}}`);
      assert.ok(idsIn(rm).has('b'), 'the last-known reading of b delivered as its final one');
      assert.ok(!idsIn((await producer.collect()).resourceMetrics).has('b'), 'once');
      assert.equal(discovery.watchCount, 2);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The rescan: the backstop for missed events

/** Closes a watch behind the Discovery's back: the kernel no longer reports (a lost event). */
function loseDirWatch(d: Discovery, rel: string): void {
  const watches = Reflect.get(d, 'dirWatches') as Map<string, fs.FSWatcher>;
  const w = watches.get(rel);
  assert.ok(w, `no watch on ${rel}`);
  w.close();
}

function loseEventsWatch(d: Discovery, rel: string): void {
  const known = Reflect.get(d, 'known') as Map<string, { eventsWatch?: fs.FSWatcher }>;
  const k = known.get(rel);
  assert.ok(k, `${rel} not known`);
  k.eventsWatch?.close();
}

for (const shape of SHAPES) {
  test(`${shape}: rescan() repairs missed events: a task made unseen, one that ended unseen, one removed unseen`, async () => {
    const never = 1_000_000_000; // no periodic rescan or emptiness poll during the test
    await withDiscovery(shape, layoutsFrom(['containerd']), { rescanIntervalMs: never, emptyPollMs: never }, async ({ tree, rec, discovery, engine }) => {
      tree.mkdir('/ns');
      await waitFor(() => discovery.watchCount === 2, 2000, 'the namespace watched');
      loseDirWatch(discovery, '/ns');

      tree.mkdir('/ns/made');
      tree.mkdir('/ns/ends');
      tree.mkdir('/ns/gone');
      await sleep(200);
      assert.equal(rec.of('added').length, 0, 'the lost watch saw nothing');
      discovery.rescan();
      for (const p of ['/ns/made', '/ns/ends', '/ns/gone']) assert.equal(rec.of('added', p).length, 1, `${p} added by the rescan`);
      assert.equal(engine.size, 3);

      // It ran and ended, but its populated-0 event (or the emptiness poll) never came.
      const b = await burner(30);
      if (shape !== 'v1') loseEventsWatch(discovery, '/ns/ends');
      tree.enter('/ns/ends', b.pid);
      await b.burn();
      // Removed while the directory watch is lost.
      tree.rmdirNow('/ns/gone');
      await sleep(200);
      assert.equal(rec.of('stopped').length, 0, 'no event seen');

      discovery.rescan();
      const ends = await rec.wait('stopped', '/ns/ends', 1000);
      assert.equal(ends.e.trigger, shape === 'v1' ? 'empty' : 'populated');
      assert.equal(ends.e.result.source, 'read');
      assert.ok(cpuUsed(ends.e.result.stats) > 0);
      const gone = await rec.wait('stopped', '/ns/gone', 1000);
      assert.equal(gone.e.trigger, 'rescan');
      assert.equal(gone.e.result.source, 'last-known', 'never collected: its first reading, taken at add()');
      assert.equal(gone.e.result.lastKnown, 'young');
      assert.equal(engine.size, 1);
      assert.ok(engine.has('made', 'ns'));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Directories removed and made again under the same path before the watcher looks

for (const shape of SHAPES) {
  test(`${shape}: a task directory made again under the same path (a restart) is a new task; a namespace made again stays watched`, async () => {
    const never = 1_000_000_000;
    await withDiscovery(shape, layoutsFrom(['containerd']), { rescanIntervalMs: never }, async ({ tree, rec, discovery }) => {
      tree.mkdir('/ns');
      await waitFor(() => discovery.watchCount === 2, 2000, 'the namespace watched');

      tree.mkdir('/ns/svc');
      await rec.wait('added', '/ns/svc');
      const b = await burner(20);
      tree.enter('/ns/svc', b.pid);
      await b.burn();
      await rec.wait('stopped', '/ns/svc');
      await sleep(50); // the process is gone: the directory can be removed
      // Removed and made again in one go, before the watcher handles either event.
      tree.rmdirNow('/ns/svc');
      tree.mkdir('/ns/svc');
      const again = await rec.wait('added', '/ns/svc', 1000, 2);
      assert.equal(again.e.task.id, 'svc');
      // A registered incarnation replaced under the same path before it ended: its final reading
      // must not be read from the new directory (another cgroup); it gets its last periodic one.
      tree.rmdirNow('/ns/svc');
      tree.mkdir('/ns/svc');
      const replaced = await rec.wait('stopped', '/ns/svc', 2000, 2);
      assert.equal(replaced.e.trigger, 'removed');
      assert.equal(replaced.e.result.source, 'last-known', 'never collected, and not read at stop from the new directory: its young reading');
      assert.equal(replaced.e.result.lastKnown, 'young');
      await rec.wait('added', '/ns/svc', 1000, 3);
      const b2 = await burner(20);
      tree.enter('/ns/svc', b2.pid);
      await b2.burn();
      const stopped2 = await rec.wait('stopped', '/ns/svc', 2000, 3);
      assert.equal(stopped2.e.result.source, 'read');

      // The namespace directory removed and made again at once: its old watch is dead.
      await tree.rmdir('/ns');
      tree.mkdir('/ns');
      await sleep(100);
      tree.mkdir('/ns/next');
      await rec.wait('added', '/ns/next', 1000);
      assert.equal(discovery.watchCount, 2 + (shape === 'v1' ? 0 : 1));
      assert.equal(await kernelWatches(), discovery.watchCount, 'no dead watch left behind');
    });
  });
}

test('hybrid: a cgroup2 twin made after the task was added still gives the populated-0 final reading', async () => {
  await withDiscovery('hybrid', layoutsFrom(['containerd']), {}, async ({ tree, rec, discovery }) => {
    tree.mkdir('/ns');
    await waitFor(() => discovery.watchCount === 2, 2000, 'the namespace watched');
    tree.mkdir('/ns/late', tree.v1Roots);
    await rec.wait('added', '/ns/late');
    tree.mkdir('/ns/late', tree.v2Roots); // the runtime makes the twin last
    await waitFor(() => discovery.watchCount === 3, 1000, "the twin's cgroup.events watched");
    const b = await burner(30);
    tree.enter('/ns/late', b.pid);
    await b.burn();
    const stopped = await rec.wait('stopped', '/ns/late', 1000);
    assert.equal(stopped.e.trigger, 'populated');
    assert.equal(stopped.e.result.source, 'read');
    assert.ok(stopped.e.result.stats?.pressure, 'pressure from the twin');
  });
});

for (const events of ['native', 'inotify'] as const) {
  test(`hybrid, ${events}: the main thread blocked from the task's exit until the runtime removed its cgroup: ${events === 'native' ? 'the events thread read the final reading at populated 0' : 'the final read finds the cgroup gone (the control: why the events thread exists)'}`, async () => {
    const saved = process.env.OCM_NO_NATIVE_EVENTS;
    if (events === 'inotify') process.env.OCM_NO_NATIVE_EVENTS = '1';
    try {
      await withDiscovery('hybrid', layoutsFrom(['containerd']), { rescanIntervalMs: NO_RESCAN_MS }, async ({ tree, rec, discovery }) => {
        assert.equal(discovery.eventsMechanism, events, discovery.eventsStatus);
        tree.mkdir('/ns');
        await waitFor(() => discovery.watchCount === 2, 2000, 'the namespace watched');
        tree.mkdir('/ns/blocked');
        await rec.wait('added', '/ns/blocked');
        await sleep(200); // its first (recording) read is done: the events thread has the file list
        const b = await burner(150);
        tree.enter('/ns/blocked', b.pid);
        const burnt = b.burn();
        // From here to the rmdir this thread never yields: no JavaScript can read the cgroup.
        const events2 = tree.v2Roots.map((r) => `${r}/ns/blocked/cgroup.events`);
        const until = Date.now() + 10_000;
        while (!/^populated 0$/m.test(fs.readFileSync(events2[0] as string, 'latin1')) && Date.now() < until);
        const spin = Date.now() + 20; // runc's rmdir comes later than this (it reaps, then tells the shim)
        while (Date.now() < spin);
        const errors: string[] = [];
        for (const r of [...tree.v2Roots, ...tree.v1Roots]) rmdirRetrySync(`${r}/ns/blocked`, errors);
        assert.deepEqual(errors, []);
        const { cpuMs } = await burnt;
        const stopped = await rec.wait('stopped', '/ns/blocked', 5000);
        if (events === 'native') {
          assert.equal(stopped.e.trigger, 'populated');
          assert.equal(stopped.e.result.source, 'read', `final reading ${stopped.e.result.source} ${stopped.e.result.lastKnown ?? ''}`);
          assert.ok(stopped.e.captured, 'read by the events thread');
          const cpu = stopped.e.result.stats?.version === 1 ? (stopped.e.result.stats.cpu?.usageNs ?? 0) / 1e6 : 0;
          assert.ok(cpu >= 0.95 * cpuMs, `final CPU ${cpu.toFixed(1)} ms, the burner used ${cpuMs.toFixed(1)} ms`);
          assert.ok(stopped.e.result.stats?.version === 1 && stopped.e.result.stats.pressure, 'the twin read too (pressure)');
        } else {
          assert.notEqual(stopped.e.result.source, 'read', 'a read after the rmdir cannot succeed');
          assert.equal(stopped.e.captured, undefined);
        }
      });
    } finally {
      if (saved === undefined) delete process.env.OCM_NO_NATIVE_EVENTS;
      else process.env.OCM_NO_NATIVE_EVENTS = saved;
    }
  });
}

test('hybrid: a task that ran and ended before its late cgroup2 twin was attached still gives its final reading (the CI failure of the network test)', async () => {
  // The poll that attaches the twin comes after the task is over: a watch set then would never
  // see its `populated 0`.
  await withDiscovery('hybrid', layoutsFrom(['containerd']), { emptyPollMs: 1500, rescanIntervalMs: 600_000 }, async ({ tree, rec }) => {
    tree.mkdir('/ns');
    await sleep(100);
    tree.mkdir('/ns/gone', tree.v1Roots);
    await rec.wait('added', '/ns/gone');
    await sleep(300); // past the add retries: added without its twin
    tree.mkdir('/ns/gone', tree.v2Roots);
    const b = await burner(50);
    tree.enter('/ns/gone', b.pid);
    await b.burn(); // over before the next poll
    const stopped = await rec.wait('stopped', '/ns/gone', 4000);
    assert.equal(stopped.e.trigger, 'populated');
    assert.equal(stopped.e.result.source, 'read');
  });
});

for (const shape of ['v1', 'hybrid'] as const) {
  test(`${shape}: a task whose cpuacct directories (its namespace's too) a slow runtime makes after the add retries gave up still has its CPU read`, async () => {
    await withDiscovery(shape, layoutsFrom(['containerd']), {}, async ({ tree, rec, engine }) => {
      const acct = tree.v1Roots.find((r) => r.includes('/cpuacct/')) as string;
      // A new namespace: in cpuacct neither it nor the task exist until later (the CI failure:
      // with no parent there, the add did not even wait for cpuacct).
      tree.mkdir('/ns', [...tree.v1Roots.filter((r) => r !== acct), ...tree.v2Roots]);
      await sleep(100);
      tree.mkdir('/ns/slow', [...tree.v1Roots.filter((r) => r !== acct), ...tree.v2Roots]);
      await rec.wait('added', '/ns/slow', 2000);
      await sleep(300); // well past the add retries (126 ms in all)
      tree.mkdir('/ns/slow', [acct]);
      const b = await burner(200);
      tree.enter('/ns/slow', b.pid);
      await b.burn();
      const stopped = await rec.wait('stopped', '/ns/slow', 3000);
      const usage = stopped.e.result.stats?.version === 1 ? stopped.e.result.stats.cpu?.usageNs : undefined;
      assert.ok(usage !== undefined && usage >= 0.15e9, `cpuacct.usage in the final reading: ${usage} ns for a 200 ms burn`);
      assert.equal(engine.tasks().length, 0);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Bounded watches

for (const shape of SHAPES) {
  test(`${shape}: 200 tasks in one namespace: watches = root + namespace + one cgroup.events per live task, back to baseline after`, async (t) => {
    const N = 200;
    await withDiscovery(shape, layoutsFrom(DEFAULT_LAYOUTS), {}, async ({ tree, rec, discovery, engine }) => {
      const baseline = discovery.watchCount;
      assert.equal(baseline, 1);
      assert.equal(await kernelWatches(), baseline);
      tree.mkdir('/ns');
      await waitFor(() => discovery.watchCount === 2, 2000, 'the namespace watched');
      const t0 = performance.now();
      for (let i = 0; i < N; i++) tree.mkdir(`/ns/t${i}`);
      await waitFor(() => discovery.taskCount === N, 5000, `${N} tasks added`);
      t.diagnostic(`${N} mkdirs → all added in ${(performance.now() - t0).toFixed(0)} ms`);
      const perTask = shape === 'v1' ? 0 : 1;
      assert.equal(discovery.watchCount, 2 + perTask * N);
      assert.equal(await kernelWatches(), discovery.watchCount, 'the kernel agrees');
      assert.equal(engine.size, N);

      if (shape !== 'v1') {
        // One process visits every task: each is populated, then empty when it moves on.
        const p = sleeper();
        for (let i = 0; i < N; i++) {
          tree.enter(`/ns/t${i}`, p.pid as number);
          if (i % 20 === 19) await sleep(1);
        }
        p.kill('SIGKILL');
        await waitFor(() => rec.of('stopped').length === N, 5000, `${N} final readings`);
        assert.ok(rec.of('stopped').every((r) => r.e.trigger === 'populated' && r.e.result.source === 'read'));
        assert.equal(discovery.watchCount, 2, 'after they end: root + namespace');
        assert.equal(await kernelWatches(), 2);
      }
      // A burst's first readings are taken in 5 ms slices after the first (each opening the
      // task's files to keep them): 200 of them take a while on a loaded machine. Removed before
      // its first reading, a task that never ran has nothing to send (none).
      await sleep(shape === 'v1' ? 500 : 50);
      for (let i = 0; i < N; i++) await tree.rmdir(`/ns/t${i}`);
      await waitFor(() => discovery.taskCount === 0 && engine.size === 0, 3000, 'every task gone');
      if (shape === 'v1') {
        // Never ran: no final reading before the removal, which is then a missed one (its young reading goes out).
        await waitFor(() => rec.of('stopped').length === N, 3000, `${N} stopped on removal`);
        const how = new Map<string, number>();
        for (const r of rec.of('stopped')) {
          const k = `${r.e.trigger}/${r.e.result.source}/${r.e.result.lastKnown ?? '-'}`;
          how.set(k, (how.get(k) ?? 0) + 1);
        }
        assert.deepEqual(Object.fromEntries(how), { 'removed/last-known/young': N });
      } else {
        await sleep(100);
        assert.equal(rec.of('stopped').length, N, 'no second final reading on removal');
      }
      assert.equal(discovery.watchCount, 2);
      await tree.rmdir('/ns');
      await waitFor(() => discovery.watchCount === baseline, 2000, 'back to the baseline');
      assert.equal(await kernelWatches(), baseline);
    });
    assert.equal(await kernelWatches(), 0, 'close() removes every watch');
  });
}
