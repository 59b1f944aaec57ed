/**
 * The young-task sampler: alone (a clock of its own, ticks called by the test), then wired in
 * the engine on real cgroup2 directories (the hybrid host's /sys/fs/cgroup/unified; root only):
 * a task whose cgroup is removed before any collection still gets a final reading (its young
 * one), a burning task's young readings grow, and the final_readings counters account for
 * every stop by source.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { hostCgroupMounts, type CgroupMounts } from '../../src/cgroup/mounts.ts';
import { readStats } from '../../src/cgroup/read.ts';
import { DEFAULT_GROUPS, type V2Stats } from '../../src/cgroup/types.ts';
import { CgroupMetrics } from '../../src/metrics/cgroup-metrics.ts';
import { YoungSampler } from '../../src/metrics/young-sampler.ts';
import { randomName, sleep, spawnBurner, waitFor } from './helpers.ts';

// ---------------------------------------------------------------------------------------------
// The sampler alone

function sampler(opts: { windowMs?: number; maxPerTick?: number } = {}) {
  let now = 0;
  const reads: string[] = [];
  const dead = new Set<string>();
  const s = new YoungSampler<string>({
    windowMs: opts.windowMs ?? 2000,
    intervalMs: 1_000_000, // ticks come from the test
    maxPerTick: opts.maxPerTick ?? 100,
    sliceMs: 5,
    read: (item) => reads.push(item),
    alive: (item) => !dead.has(item),
    now: () => now,
  });
  return { s, reads, dead, advance: (ms: number) => (now += ms) };
}

test('YoungSampler: a first reading at add() (in its stack), then one per tick while young; none after the window', async () => {
  const { s, reads, advance } = sampler({ windowMs: 1000 });
  s.add('a', true);
  assert.deepEqual(reads, ['a'], 'the first reading is taken in add()');
  s.add('b', false);
  assert.deepEqual(reads, ['a'], 'no first reading without firstReading');
  for (let i = 0; i < 4; i++) {
    advance(250);
    await s.tick();
  }
  assert.deepEqual(reads, ['a', 'a', 'b', 'a', 'b', 'a', 'b'], 'read at 250, 500, 750 ms; at 1000 ms the window is over');
  assert.equal(s.reads, 6);
  assert.equal(s.size, 0);
  advance(250);
  await s.tick();
  assert.equal(s.reads, 6, 'no read after the young window');
  s.close();
});

test('YoungSampler: at most maxPerTick reads a tick, the least recently read first; stopped tasks are dropped unread', async () => {
  const { s, reads, dead, advance } = sampler({ maxPerTick: 2 });
  for (const id of ['a', 'b', 'c', 'd', 'e']) s.add(id, false);
  advance(250);
  await s.tick();
  advance(250);
  await s.tick();
  advance(250);
  await s.tick();
  assert.deepEqual(reads, ['a', 'b', 'c', 'd', 'e', 'a']);
  dead.add('b');
  advance(250);
  await s.tick();
  assert.deepEqual(reads.slice(6), ['c', 'd'], 'b stopped: dropped');
  assert.equal(s.size, 4);
  s.close();
  assert.equal(s.size, 0);
});

test("YoungSampler: a burst of first readings: the first in add()'s stack, the rest in slices after", async () => {
  const { s, reads } = sampler({ windowMs: 0 });
  for (let i = 0; i < 50; i++) s.add(String(i), true);
  assert.ok(reads.length >= 1 && reads.length < 50, `${reads.length} read in the stack of the burst`);
  await waitFor(() => reads.length === 50, 2000, 'every first reading');
  assert.equal(s.size, 0, 'windowMs 0: nobody young');
});

test('engine options: youngTaskMs, youngIntervalMs and youngMaxPerTick are checked', () => {
  const root = path.resolve('test/fixtures/cgroup-v2-kernel-6.18/loaded');
  assert.throws(() => new CgroupMetrics({ root, youngTaskMs: -1 }), /youngTaskMs/);
  assert.throws(() => new CgroupMetrics({ root, youngIntervalMs: 0 }), /youngIntervalMs/);
  assert.throws(() => new CgroupMetrics({ root, youngMaxPerTick: 0 }), /youngMaxPerTick/);
  assert.doesNotThrow(() => new CgroupMetrics({ root, youngTaskMs: 0 }));
});

// ---------------------------------------------------------------------------------------------
// Wired in the engine, on real cgroups

describe('young tasks on real cgroup2 directories', { timeout: 60_000 }, () => {
  const made: string[] = [];

  function v2(): { mounts: CgroupMounts; root: string } {
    assert.equal(process.getuid?.(), 0, 'these tests need root to create cgroups');
    const m = hostCgroupMounts();
    assert.ok(m.v2, 'these tests need a cgroup2 mount');
    return { mounts: { mode: 'v2', v1: new Map(), v2: m.v2 }, root: m.v2.mountPoint };
  }

  function mkCgroup(root: string): { name: string; dir: string } {
    const name = randomName('ocm-young');
    const dir = path.join(root, name);
    fs.mkdirSync(dir);
    made.push(dir);
    return { name, dir };
  }

  async function rmCgroup(dir: string): Promise<void> {
    for (let i = 0; i < 100 && fs.existsSync(dir); i++) {
      try {
        fs.rmdirSync(dir);
      } catch {
        await sleep(20); // an exiting process is still accounted
      }
    }
    assert.equal(fs.existsSync(dir), false, `${dir} removed`);
  }

  after(async () => {
    for (const d of made) if (fs.existsSync(d)) await rmCgroup(d);
  });

  test('added with firstReading, its cgroup removed before any collection: stop() gives the young reading, not none', async () => {
    const { mounts, root } = v2();
    const engine = new CgroupMetrics({ mounts });
    const { name, dir } = mkCgroup(root);
    engine.add({ id: 'a', cgroup: `/${name}`, firstReading: true });
    await rmCgroup(dir);
    const r = await engine.stop('a');
    assert.equal(r.source, 'last-known');
    assert.equal(r.lastKnown, 'young');
    assert.ok(r.stats && r.stats.version === 2 && (r.stats as V2Stats).cpu?.usageUsec !== undefined, 'its cpu.stat was read at add()');
    assert.ok(r.timeMs !== undefined && r.timeMs <= Date.now());

    // Without firstReading nothing was read: none, as before.
    const b = mkCgroup(root);
    engine.add({ id: 'b', cgroup: `/${b.name}` });
    await rmCgroup(b.dir);
    assert.deepEqual(await engine.stop('b'), { source: 'none' });
  });

  test('recordFiles: the first reading of a task added without one notes the files it read, and is kept as its young reading; a task that ends first gets undefined', async () => {
    const { mounts, root } = v2();
    const engine = new CgroupMetrics({ mounts, youngIntervalMs: 60_000 });
    const { name, dir } = mkCgroup(root);
    engine.add({ id: 'a', cgroup: `/${name}` });
    const files = await engine.recordFiles('a');
    assert.ok(files, 'the reading noted its files');
    assert.ok(files.includes(`${dir}/cpu.stat`) && files.includes(`${dir}/cpu.pressure`), files.join(' '));
    assert.ok(
      files.every((f) => f.startsWith(`${dir}/`)),
      'only the cgroup files (a /proc file is read through its kept descriptor)',
    );
    await rmCgroup(dir);
    const r = await engine.stop('a');
    assert.equal(r.source, 'last-known');
    assert.equal(r.lastKnown, 'young', 'the recording reading is the first reading');

    // Stopped before its reading came back: the promise resolves (undefined), it does not hang.
    const b = mkCgroup(root);
    engine.add({ id: 'b', cgroup: `/${b.name}` });
    const pending = engine.recordFiles('b');
    const stopped = engine.stop('b');
    assert.equal(await Promise.race([pending, sleep(2000).then(() => 'still pending after 2 s')]), undefined);
    assert.equal((await stopped).source, 'read');
    assert.equal(await engine.recordFiles('b'), undefined, 'an unknown task');
  });

  test('a burning task: its young readings grow past its first one; no reads after its young window', async () => {
    const { mounts, root } = v2();
    const windowMs = 3000;
    const intervalMs = 100;
    const engine = new CgroupMetrics({ mounts, youngTaskMs: windowMs, youngIntervalMs: intervalMs });
    const { name, dir } = mkCgroup(root);
    const burner = await spawnBurner(300);
    try {
      fs.writeFileSync(path.join(dir, 'cgroup.procs'), String(burner.pid));
      const addedAt = Date.now();
      engine.add({ id: 'burn', cgroup: `/${name}`, firstReading: true });
      // What the first reading saw (the same files, a moment later): the burner has not started.
      const firstUsageMs = ((readStats({ version: 2, path: `/${name}`, dir }, new Set(DEFAULT_GROUPS)).stats as V2Stats).cpu?.usageUsec ?? 0) / 1000;
      const { cpuMs } = await burner.burn();
      await sleep(300); // a few young reads after the exit
      assert.ok(Date.now() - addedAt < windowMs - 100, 'still young (the burn took too long on this machine)');
      const readsWhileYoung = engine.youngReads;
      assert.ok(readsWhileYoung >= 3, `${readsWhileYoung} young reads`);
      await rmCgroup(dir);
      const r = await engine.stop('burn');
      assert.equal(r.source, 'last-known');
      assert.equal(r.lastKnown, 'young');
      const usageMs = ((r.stats as V2Stats).cpu?.usageUsec ?? 0) / 1000;
      assert.ok(firstUsageMs < 0.2 * cpuMs, `the first reading had ${firstUsageMs} ms of CPU`);
      assert.ok(usageMs >= 0.8 * cpuMs, `the young reading has ${usageMs} ms of CPU (the first ${firstUsageMs} ms), the burner burnt ${cpuMs} ms`);
    } finally {
      burner.kill();
    }

    // Another task, left live: read while young, never after.
    const other = mkCgroup(root);
    engine.add({ id: 'idle', cgroup: `/${other.name}`, firstReading: true });
    const before = engine.youngReads;
    await sleep(windowMs + 300);
    const inWindow = engine.youngReads - before;
    assert.ok(inWindow >= 5 && inWindow <= windowMs / intervalMs + 1, `${inWindow} reads in the ${windowMs} ms window at a ${intervalMs} ms interval`);
    await sleep(300);
    assert.equal(engine.youngReads - before, inWindow, 'no reads after the young window');
    await engine.stop('idle');
  });

  test('cgroup_metrics.final_readings accounts for every stop by source: read, young, periodic, none', async () => {
    const { mounts, root } = v2();
    const engine = new CgroupMetrics({ mounts, youngIntervalMs: 60_000 }); // the young reads here are the first ones
    const consumer = engine.openConsumer();
    const cg = (id: string) => {
      const c = mkCgroup(root);
      return { id, ...c };
    };
    // read: the cgroup is there at stop (with a first reading or without).
    type C = ReturnType<typeof cg>;
    const [r1, r2, p1, p2, y1, y2, n1, n2] = ['r1', 'r2', 'p1', 'p2', 'y1', 'y2', 'n1', 'n2'].map(cg) as [C, C, C, C, C, C, C, C];
    const add = (c: C, firstReading: boolean) => engine.add({ id: c.id, cgroup: `/${c.name}`, firstReading });
    add(r1, true);
    add(r2, false);
    // periodic: a collection's reading is the latest one (fresher than p1's first reading; p2's only one).
    add(p1, true);
    add(p2, false);
    await sleep(20); // the rest of the burst's first readings, in slices; a collection's readings come later
    assert.equal((await consumer.snapshot()).live.length, 4);
    // young: added after the collection, only their first reading before the cgroup went.
    add(y1, true);
    add(y2, true);
    // none: nothing read before the cgroup went.
    add(n1, false);
    add(n2, false);
    await sleep(20);
    for (const c of [p1, p2, y1, y2, n1, n2]) await rmCgroup(c.dir);
    const results: Record<string, string | undefined> = {};
    for (const id of ['r1', 'r2', 'p1', 'p2', 'y1', 'n1']) {
      const r = await engine.stop(id);
      results[id] = r.lastKnown ?? r.source;
    }
    // stop(..., { gone: true }) reads nothing: the latest reading taken goes out, or none.
    results.y2 = (await engine.stop('y2', 'default', { gone: true })).lastKnown;
    results.n2 = (await engine.stop('n2', 'default', { gone: true })).source;
    assert.deepEqual(results, { r1: 'read', r2: 'read', p1: 'periodic', p2: 'periodic', y1: 'young', n1: 'none', y2: 'young', n2: 'none' });
    const self = (await consumer.snapshot()).self;
    assert.deepEqual(self.finalSources, { read: 2, young: 2, periodic: 2, none: 2 }, 'every stop counted once, by source');
    assert.equal(self.missed, 6, 'missed keeps its meaning: every stop whose cgroup was gone (young, periodic and none)');
    await rmCgroup(r1.dir);
    await rmCgroup(r2.dir);
    consumer.close();
  });
});
