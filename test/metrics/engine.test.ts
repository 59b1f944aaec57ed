/**
 * CgroupMetrics' API semantics (registry, stop/remove, re-add, sharing and deadlines of
 * collections) through the real SDK with a test MetricReader and the producer.
 */
import { MeterProvider, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { AlreadyCollectedError, CgroupMetrics, TaskNotFoundError } from '../../src/index.ts';
import {
  AFTER_EXIT,
  LOADED,
  TempV2Tree,
  TestReader,
  V1Cgroup,
  V2,
  allPoints,
  assertNoDuplicateSeries,
  assertV1FirstSplit,
  hrMs,
  idsIn,
  metricsOf,
  points,
  selfValue,
  sleep,
  spawnBurner,
  taskPoints,
  taskValue,
} from './helpers.ts';

function reader(cg: CgroupMetrics): TestReader {
  const r = new TestReader({ metricProducers: [cg.producer()] });
  new MeterProvider({ readers: [r] });
  return r;
}

async function collect(r: TestReader): Promise<ResourceMetrics> {
  const { resourceMetrics, errors } = await r.collect();
  assert.deepEqual(errors, []);
  assertNoDuplicateSeries(resourceMetrics);
  return resourceMetrics;
}

test('add of a registered (namespace, id) throws AlreadyCollectedError; other namespaces are other tasks', () => {
  const cg = new CgroupMetrics({ root: V2.loaded });
  cg.add({ id: 'a', cgroup: '/' });
  assert.throws(
    () => cg.add({ id: 'a', cgroup: '/' }),
    (e: unknown) => e instanceof AlreadyCollectedError && e.id === 'a' && e.namespace === 'default' && e.code === 'ALREADY_COLLECTED',
  );
  cg.add({ id: 'a', namespace: 'k8s.io', cgroup: '/' });
  assert.throws(() => cg.add({ id: 'a', namespace: 'k8s.io', cgroup: '/' }), AlreadyCollectedError);
  assert.equal(cg.size, 2);
  assert.ok(cg.has('a') && cg.has('a', 'k8s.io') && !cg.has('a', 'moby'));
});

test('stop of an unknown task rejects with TaskNotFoundError (no throw); remove of an unknown task returns false', async () => {
  const cg = new CgroupMetrics({ root: V2.loaded });
  let p: Promise<unknown> | undefined;
  assert.doesNotThrow(() => {
    p = cg.stop('nope', 'ns');
  });
  await assert.rejects(p as Promise<unknown>, (e: unknown) => e instanceof TaskNotFoundError && e.id === 'nope' && e.namespace === 'ns');
  assert.equal(cg.remove('nope'), false);
  cg.add({ id: 'x', cgroup: '/' });
  await cg.stop('x');
  await assert.rejects(cg.stop('x'), TaskNotFoundError, 'a second stop is a stop of an unknown task');
  assert.equal(cg.remove('x'), false, 'stop() already took it out of the registry');
});

test('remove() forgets a task without a final reading', async () => {
  const cg = new CgroupMetrics({ root: V2.loaded });
  const r = reader(cg);
  cg.add({ id: 'a', cgroup: '/' });
  cg.add({ id: 'b', cgroup: '/' });
  assert.deepEqual([...idsIn(await collect(r))].sort(), ['a', 'b']);
  assert.equal(cg.remove('b'), true);
  const rm = await collect(r);
  assert.deepEqual([...idsIn(rm)], ['a']);
  assert.equal(selfValue(rm, 'cgroup_metrics.final_readings.pending'), 0);
  assert.equal(selfValue(rm, 'cgroup_metrics.tasks'), 1);
});

test('stop() of a task whose cgroup was never read and is gone resolves { source: "none" } and delivers nothing', async (t) => {
  const tree = new TempV2Tree();
  t.after(() => tree.cleanup());
  const cg = new CgroupMetrics({ root: tree.root });
  const r = reader(cg);
  cg.add({ id: 'ghost', cgroup: tree.addCgroup('ghost') });
  cg.add({ id: 'live', cgroup: tree.addCgroup('live') });
  fs.rmSync(tree.dir('ghost'), { recursive: true });
  const res = await cg.stop('ghost');
  assert.deepEqual(res, { source: 'none' });
  const rm = await collect(r);
  assert.deepEqual([...idsIn(rm)], ['live']);
  assert.ok(!allPoints(rm).some((p) => p.point.attributes['container.id'] === 'ghost'));
  assert.equal(selfValue(rm, 'cgroup_metrics.final_readings.missed'), 1);
});

test('a vanished cgroup of a still-registered task is counted once in read.errors{ENOENT}, not at every collection', async (t) => {
  const tree = new TempV2Tree();
  t.after(() => tree.cleanup());
  const cg = new CgroupMetrics({ root: tree.root });
  const r = reader(cg);
  cg.add({ id: 'v', cgroup: tree.addCgroup('v') });
  cg.add({ id: 'w', cgroup: tree.addCgroup('w') });
  let rm = await collect(r);
  assert.equal(selfValue(rm, 'cgroup_metrics.read.errors', { 'error.type': 'ENOENT' }), undefined);
  fs.rmSync(tree.dir('v'), { recursive: true });
  for (let i = 0; i < 4; i++) {
    rm = await collect(r);
    assert.equal(selfValue(rm, 'cgroup_metrics.read.errors', { 'error.type': 'ENOENT' }), 1, `collection ${i + 1} after the rmdir`);
    assert.equal(taskValue(rm, 'container.cpu.time', 'w', { 'cpu.mode': 'user' }), LOADED.cpuUser);
    assert.equal(selfValue(rm, 'cgroup_metrics.tasks'), 2, 'still registered');
  }
  // stop() now falls back to the last successful reading (see the real-v1 test below for values).
  const res = await cg.stop('v');
  assert.equal(res.source, 'last-known');
  assert.equal(selfValue(await collect(r), 'cgroup_metrics.read.errors', { 'error.type': 'ENOENT' }), 1);
});

test('real v1 cgroup removed after a collection: stop() gives { source: "last-known" } and the last-known values are delivered', async (t) => {
  const cgv1 = new V1Cgroup(['cpu', 'cpuacct', 'memory', 'pids'], 'ocm-gone');
  const burner = await spawnBurner(150);
  t.after(async () => {
    burner.kill();
    await cgv1.remove();
  });
  cgv1.enter(burner.pid);
  await burner.burn();
  const cg = new CgroupMetrics({ groups: ['cpu', 'memory', 'pids'] });
  const r = reader(cg);
  cg.add({ id: 'gone', cgroup: cgv1.path });
  cg.add({ id: 'other', cgroup: '/' });
  const first = await collect(r);
  const ns = cgv1.cpuNs();
  const user = taskValue(first, 'container.cpu.time', 'gone', { 'cpu.mode': 'user' });
  const sys = taskValue(first, 'container.cpu.time', 'gone', { 'cpu.mode': 'system' });
  assertV1FirstSplit(user as number, sys as number, ns, 'the first reading');
  assert.ok((user as number) + (sys as number) > 0.1, `the burner's CPU time is in the cgroup (${user} + ${sys} s)`);
  const lastTime = hrMs(taskPoints(first, 'container.cpu.time', 'gone')[0]?.endTime ?? [0, 0]);
  const memLimit = taskValue(first, 'container.memory.usage.limit', 'gone');

  await cgv1.remove();
  for (let i = 0; i < 3; i++) {
    const rm = await collect(r);
    assert.equal(selfValue(rm, 'cgroup_metrics.read.errors', { 'error.type': 'ENOENT' }), 1, 'counted once');
    assert.ok(idsIn(rm).has('other'));
  }
  const res = await cg.stop('gone');
  assert.equal(res.source, 'last-known');
  assert.equal(res.timeMs, lastTime, 'the reading queued is the last successful one');
  assert.ok(res.stats?.version === 1);
  assert.equal(res.stats.cpu?.usageUserNs, ns.sampledUser);
  assert.equal(res.stats.cpu?.usageSysNs, ns.sampledSys);

  const fin = await collect(r);
  assert.equal(taskValue(fin, 'container.cpu.time', 'gone', { 'cpu.mode': 'user' }), user, 'the last-known reading, as collected');
  assert.equal(taskValue(fin, 'container.cpu.time', 'gone', { 'cpu.mode': 'system' }), sys);
  assert.equal(taskValue(fin, 'container.memory.usage.limit', 'gone'), memLimit);
  assert.equal(taskValue(fin, 'container.pids.current', 'gone'), 0);
  assert.equal(hrMs(taskPoints(fin, 'container.cpu.time', 'gone')[0]?.endTime ?? [0, 0]), lastTime);
  assert.equal(selfValue(fin, 'cgroup_metrics.final_readings.missed'), 1);
  const after = await collect(r);
  assert.deepEqual([...idsIn(after)], ['other']);
});

test('stop(id, ns, { gone: true }): nothing is read (the path may hold another cgroup now); the last periodic reading goes out, counted as missed', async (t) => {
  const tree = new TempV2Tree();
  t.after(() => tree.cleanup());
  const cg = new CgroupMetrics({ root: tree.root });
  const r = reader(cg);
  const dir = tree.addCgroup('x');
  cg.add({ id: 'x', cgroup: dir });
  const first = await collect(r);
  assert.equal(taskValue(first, 'container.cpu.time', 'x', { 'cpu.mode': 'user' }), LOADED.cpuUser);
  // The directory now holds other figures (a new cgroup under the same path): they must not be read.
  for (const f of fs.readdirSync(V2.afterExit)) fs.copyFileSync(path.join(V2.afterExit, f), path.join(tree.root, dir, f));
  const res = await cg.stop('x', 'default', { gone: true });
  assert.equal(res.source, 'last-known');
  const fin = await collect(r);
  assert.equal(taskValue(fin, 'container.cpu.time', 'x', { 'cpu.mode': 'user' }), LOADED.cpuUser, 'the last periodic reading, not the new files');
  assert.equal(selfValue(fin, 'cgroup_metrics.final_readings.missed'), 1);
  // Without it the same stop reads the files.
  cg.add({ id: 'y', cgroup: dir });
  assert.equal((await cg.stop('y')).source, 'read');
  assert.equal(taskValue(await collect(r), 'container.cpu.time', 'y', { 'cpu.mode': 'user' }), AFTER_EXIT.cpuUser);
});

test('re-add while the final reading is pending: the final goes out first, the new incarnation at the next collection with a new start time', async (t) => {
  const tree = new TempV2Tree();
  t.after(() => tree.cleanup());
  const cg = new CgroupMetrics({ root: tree.root });
  const r = reader(cg);
  const path1 = tree.addCgroup('x');
  const start1 = Date.now() - 60_000;
  cg.add({ id: 'x', cgroup: path1, startTime: start1 });
  assert.equal(taskValue(await collect(r), 'container.cpu.time', 'x', { 'cpu.mode': 'user' }), LOADED.cpuUser);

  const res = await cg.stop('x');
  // The new incarnation's cgroup now says something else: the after_exit values.
  fs.copyFileSync(path.join(V2.afterExit, 'cpu.stat'), path.join(tree.dir('x'), 'cpu.stat'));
  fs.copyFileSync(path.join(V2.afterExit, 'memory.current'), path.join(tree.dir('x'), 'memory.current'));
  const start2 = Date.now();
  cg.add({ id: 'x', cgroup: path1, startTime: start2 });

  const c1 = await collect(r);
  // Exactly one point per series of x, and they are the final reading's.
  for (const m of metricsOf(c1)) {
    const xs = (m.dataPoints as Array<{ attributes: Record<string, unknown> }>).filter((p) => p.attributes['container.id'] === 'x');
    const keys = new Set(xs.map((p) => JSON.stringify(p.attributes)));
    assert.equal(keys.size, xs.length, `${m.descriptor.name}: one point per series`);
  }
  assert.equal(taskPoints(c1, 'container.cpu.time', 'x').length, 2);
  assert.equal(taskValue(c1, 'container.cpu.time', 'x', { 'cpu.mode': 'user' }), LOADED.cpuUser);
  assert.equal(taskValue(c1, 'container.memory.usage', 'x'), LOADED.memoryUsage);
  const p1 = taskPoints(c1, 'container.cpu.time', 'x', { 'cpu.mode': 'user' })[0];
  assert.equal(hrMs(p1?.startTime ?? [0, 0]), start1);
  assert.equal(hrMs(p1?.endTime ?? [0, 0]), res.timeMs);
  assert.equal(selfValue(c1, 'cgroup_metrics.tasks'), 1, 'the new incarnation is registered');

  const c2 = await collect(r);
  assert.equal(taskPoints(c2, 'container.cpu.time', 'x').length, 2);
  assert.equal(taskValue(c2, 'container.cpu.time', 'x', { 'cpu.mode': 'user' }), AFTER_EXIT.cpuUser);
  assert.equal(taskValue(c2, 'container.memory.usage', 'x'), AFTER_EXIT.memoryUsage);
  assert.equal(hrMs(taskPoints(c2, 'container.cpu.time', 'x', { 'cpu.mode': 'user' })[0]?.startTime ?? [0, 0]), start2, 'new series, new start time');

  // Stop and re-add twice before one collection: one final per collection, in order.
  const s2 = await cg.stop('x');
  cg.add({ id: 'x', cgroup: path1 });
  const s3 = await cg.stop('x');
  const start4 = Date.now() + 1;
  cg.add({ id: 'x', cgroup: path1, startTime: start4 });
  const c3 = await collect(r);
  assert.equal(taskPoints(c3, 'container.cpu.time', 'x').length, 2);
  assert.equal(hrMs(taskPoints(c3, 'container.cpu.time', 'x')[0]?.endTime ?? [0, 0]), s2.timeMs);
  assert.equal(hrMs(taskPoints(c3, 'container.cpu.time', 'x')[0]?.startTime ?? [0, 0]), start2);
  const c4 = await collect(r);
  assert.equal(taskPoints(c4, 'container.cpu.time', 'x').length, 2);
  assert.equal(hrMs(taskPoints(c4, 'container.cpu.time', 'x')[0]?.endTime ?? [0, 0]), s3.timeMs);
  const c5 = await collect(r);
  assert.equal(hrMs(taskPoints(c5, 'container.cpu.time', 'x')[0]?.startTime ?? [0, 0]), start4);
});

test('add, stop and remove do not wait for a collection in progress', async () => {
  const cg = new CgroupMetrics({ root: V2.loaded, collectTimeoutMs: 30_000 });
  const r = reader(cg);
  const N = 3000;
  for (let i = 0; i < N; i++) cg.add({ id: `t${i}`, cgroup: '/' });
  await collect(r); // warm up (JIT), so that the timed collection is a real one
  let collected = false;
  const t0 = performance.now();
  const pending = r.collect().then((c) => {
    collected = true;
    return c;
  });
  await sleep(1); // the cycle is now between two of its slices
  assert.equal(collected, false);
  const a0 = performance.now();
  cg.add({ id: 'new', cgroup: '/' });
  assert.equal(cg.remove('t1'), true);
  const res = await cg.stop('t2');
  const apiMs = performance.now() - a0;
  assert.equal(res.source, 'read');
  assert.equal(collected, false, `stop() resolved only after the collection (${apiMs.toFixed(1)} ms)`);
  const { resourceMetrics: rm } = await pending;
  const cycleMs = performance.now() - t0;
  assert.ok(apiMs < cycleMs / 2, `add/remove/stop took ${apiMs.toFixed(1)} ms during a ${cycleMs.toFixed(0)} ms collection`);
  const ids = idsIn(rm);
  assert.ok(ids.has('t2'), 'the task stopped during the read is delivered by that collection');
  assert.equal(hrMs(taskPoints(rm, 'container.cpu.time', 't2')[0]?.endTime ?? [0, 0]), res.timeMs);
  assert.ok(!ids.has('t1'), 'the removed task is not exported');
  assert.ok(!ids.has('new'), 'the task added during the read is read at the next cycle');
  assert.equal(ids.size, N - 1);
  assert.ok(idsIn(await collect(r)).has('new'));
});

test('overlapping collections of two readers share one read of cgroupfs', async () => {
  const cg = new CgroupMetrics({ root: V2.loaded, sliceMs: 1 });
  const r1 = reader(cg);
  const r2 = reader(cg);
  const N = 400;
  for (let i = 0; i < N; i++) cg.add({ id: `t${i}`, cgroup: '/' });
  const endTimes = (rm: ResourceMetrics): Map<string, number> =>
    new Map(
      points(rm, 'container.cpu.time')
        .filter((p) => p.attributes['cpu.mode'] === 'user')
        .map((p) => [String(p.attributes['container.id']), hrMs(p.endTime)]),
    );

  const [a, b] = await Promise.all([collect(r1), collect(r2)]);
  const ta = endTimes(a);
  const tb = endTimes(b);
  assert.equal(ta.size, N);
  assert.deepEqual(ta, tb, "every task's reading has the same timestamp in both collections: one read");
  assert.equal(selfValue(a, 'cgroup_metrics.collection.duration'), selfValue(b, 'cgroup_metrics.collection.duration'));
  const spread = Math.max(...ta.values()) - Math.min(...ta.values());
  assert.ok(spread >= 1, `one cycle of ${N} tasks spans ${spread} ms (else the check above proves nothing)`);

  // Collections that do not overlap read again.
  const c = await collect(r1);
  await sleep(5);
  const d = await collect(r2);
  const tc = endTimes(c);
  const td = endTimes(d);
  for (const [id, time] of tc) assert.ok((td.get(id) ?? 0) > time, `${id}: a second read`);
});

test("a planted FIFO (no writer) in one task's cgroup: the collection returns by its deadline with every other task, the error is counted", async (t) => {
  const tree = new TempV2Tree();
  t.after(() => tree.cleanup());
  const DEADLINE = 2000;
  const cg = new CgroupMetrics({ root: tree.root, collectTimeoutMs: DEADLINE });
  const r = reader(cg);
  for (let i = 0; i < 6; i++) cg.add({ id: `t${i}`, cgroup: tree.addCgroup(`t${i}`) });
  tree.fifo('t3', 'cpu.stat');

  for (let n = 1; n <= 2; n++) {
    const t0 = performance.now();
    const rm = await collect(r);
    const elapsed = performance.now() - t0;
    console.log(`# FIFO collection ${n}: ${elapsed.toFixed(1)} ms (deadline ${DEADLINE} ms)`);
    assert.ok(elapsed < DEADLINE + 500, `collection took ${elapsed.toFixed(0)} ms`);
    for (const id of ['t0', 't1', 't2', 't4', 't5']) {
      assert.equal(taskValue(rm, 'container.cpu.time', id, { 'cpu.mode': 'user' }), LOADED.cpuUser, id);
      assert.equal(taskValue(rm, 'container.cpu.throttling_data.periods', id), LOADED.periods, id);
      assert.equal(taskValue(rm, 'container.memory.usage', id), LOADED.memoryUsage, id);
    }
    // t3: nothing from cpu.stat, the rest of its files as usual.
    assert.equal(taskPoints(rm, 'container.cpu.time', 't3').length, 0);
    assert.equal(taskValue(rm, 'container.cpu.limit', 't3'), LOADED.cpuLimit);
    assert.equal(taskValue(rm, 'container.memory.usage', 't3'), LOADED.memoryUsage);
    assert.equal(selfValue(rm, 'cgroup_metrics.read.errors', { 'error.type': 'parse' }), n, 'one failed read per collection');
  }
});

test('a FIFO with a writer that never writes (a blocking read would never return) fails fast and is counted', async (t) => {
  const tree = new TempV2Tree();
  t.after(() => tree.cleanup());
  const cg = new CgroupMetrics({ root: tree.root, collectTimeoutMs: 2000 });
  const r = reader(cg);
  for (let i = 0; i < 3; i++) cg.add({ id: `t${i}`, cgroup: tree.addCgroup(`t${i}`) });
  const fifo = tree.fifo('t1', 'cpu.stat');
  // This process holds the FIFO open for writing and never writes.
  const fd = fs.openSync(fifo, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
  t.after(() => fs.closeSync(fd));
  const t0 = performance.now();
  const rm = await collect(r);
  const elapsed = performance.now() - t0;
  assert.ok(elapsed < 2500, `collection took ${elapsed.toFixed(0)} ms`);
  assert.equal(taskValue(rm, 'container.cpu.time', 't0', { 'cpu.mode': 'user' }), LOADED.cpuUser);
  assert.equal(taskValue(rm, 'container.cpu.time', 't2', { 'cpu.mode': 'user' }), LOADED.cpuUser);
  assert.equal(taskPoints(rm, 'container.cpu.time', 't1').length, 0);
  assert.equal(taskValue(rm, 'container.memory.usage', 't1'), LOADED.memoryUsage);
  assert.equal(selfValue(rm, 'cgroup_metrics.read.errors', { 'error.type': 'EAGAIN' }), 1);
  // stop() of that task also returns at once, with what could be read.
  const res = await cg.stop('t1');
  assert.equal(res.source, 'read');
  assert.equal(res.stats?.version === 2 ? res.stats.memory?.current : undefined, LOADED.memoryUsage);
});

test('a collection that hits its deadline returns what was read by then, and counts the rest as timeouts', async () => {
  const DEADLINE = 100;
  // Enough tasks that a full read takes at least 10 × the deadline on this machine: measured
  // here (the fastest of a few warm full reads), so a faster machine never reads them all.
  const probe = new CgroupMetrics({ root: V2.loaded });
  const pr = reader(probe);
  for (let i = 0; i < 1000; i++) probe.add({ id: `p${i}`, cgroup: '/' });
  let perTaskMs = Infinity;
  for (let k = 0; k < 3; k++) perTaskMs = Math.min(perTaskMs, ((selfValue(await collect(pr), 'cgroup_metrics.collection.duration') as number) * 1000) / 1000);
  const N = Math.max(4000, Math.ceil((10 * DEADLINE) / perTaskMs));
  const fullMs = N * perTaskMs;
  const cg = new CgroupMetrics({ root: V2.loaded, collectTimeoutMs: DEADLINE });
  const r = reader(cg);
  for (let i = 0; i < N; i++) cg.add({ id: `t${i}`, cgroup: '/' });
  let prevTimeouts = 0;
  const times: number[] = [];
  for (let k = 0; k < 15; k++) {
    const t0 = performance.now();
    const { resourceMetrics: rm } = await r.collect();
    const readMs = (selfValue(rm, 'cgroup_metrics.collection.duration') as number) * 1000;
    times.push(performance.now() - t0);
    const read = idsIn(rm).size;
    const timeouts = selfValue(rm, 'cgroup_metrics.read.errors', { 'error.type': 'timeout' }) ?? 0;
    assert.ok(read > 0, `collection ${k}: no live reading returned (what was read by the deadline was thrown away)`);
    assert.ok(read < N, `collection ${k}: all ${N} tasks read (a full read ~${fullMs.toFixed(0)} ms here): the ${DEADLINE} ms deadline was not kept`);
    assert.equal(read + (timeouts - prevTimeouts), N, `collection ${k}: read + timed out = all tasks`);
    // A deadline ignored would read all N (the assertion above); this catches reads that go on
    // far past it, relative to a full read on this machine, not to a wall-clock figure.
    assert.ok(
      readMs < fullMs / 2,
      `collection ${k}: the reads went on for ${readMs.toFixed(0)} ms (a full read ~${fullMs.toFixed(0)} ms, deadline ${DEADLINE} ms)`,
    );
    prevTimeouts = timeouts;
  }
  console.log(
    `# deadline ${DEADLINE} ms, ${N} tasks (a full read ~${fullMs.toFixed(0)} ms): collections took ${Math.min(...times).toFixed(0)}..${Math.max(...times).toFixed(0)} ms (reads + building the points)`,
  );
});
