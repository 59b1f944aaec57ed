/**
 * The MetricProducer path with the real SDK: a final reading reaches every reader exactly
 * once, at its next collection, and the stopped task's series are gone after that.
 */
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { FIXTURE_DEVICE_NAMES } from '../helpers/device-names.ts';
import { CgroupMetrics, type StopResult } from '../../src/index.ts';
import {
  AFTER_EXIT,
  LOADED,
  TempV2Tree,
  TestReader,
  V2,
  allPoints,
  assertNoDuplicateSeries,
  hrMs,
  idsIn,
  points,
  selfValue,
  sleep,
  taskPoints,
  taskValue,
  waitFor,
} from './helpers.ts';

test('a task that lives less than one collection interval reaches every periodic reader once, with its final values (producer)', async (t) => {
  const tree = new TempV2Tree();
  t.after(() => tree.cleanup());
  tree.addCgroup('live', V2.loaded);
  tree.addCgroup('short', V2.afterExit);
  const cg = new CgroupMetrics({ root: tree.root, deviceNames: FIXTURE_DEVICE_NAMES });
  const expA = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const expB = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const rA = new PeriodicExportingMetricReader({
    exporter: expA,
    exportIntervalMillis: 100,
    exportTimeoutMillis: 100,
    metricProducers: [cg.producer({ temporality: expA })],
  });
  const rB = new PeriodicExportingMetricReader({
    exporter: expB,
    exportIntervalMillis: 300,
    exportTimeoutMillis: 300,
    metricProducers: [cg.producer({ temporality: expB })],
  });
  const mp = new MeterProvider({ readers: [rA, rB] });
  t.after(() => mp.shutdown());

  cg.add({ id: 'live', cgroup: '/live' });
  await waitFor(() => expA.getMetrics().length >= 2 && expB.getMetrics().length >= 1, 5_000, 'first exports');

  // add + stop in one synchronous stretch: no collection can read the task live.
  const start = Date.now() - 1_000;
  const exportsBefore = { A: expA.getMetrics().length, B: expB.getMetrics().length };
  cg.add({ id: 'short', cgroup: '/short', startTime: start, attributes: { 'container.name': 'shorty' } });
  const stopped = cg.stop('short');
  const res = await stopped;
  assert.equal(res.source, 'read');
  const stopTime = res.timeMs as number;

  await waitFor(() => expA.getMetrics().length >= exportsBefore.A + 3 && expB.getMetrics().length >= exportsBefore.B + 2, 5_000, 'exports after the stop');

  for (const [name, exp] of [
    ['A', expA],
    ['B', expB],
  ] as const) {
    const all = exp.getMetrics();
    const withShort = all.map((rm, i) => [i, rm] as const).filter(([, rm]) => idsIn(rm).has('short'));
    assert.equal(withShort.length, 1, `reader ${name}: the short task is in ${withShort.length} exports, expected exactly 1`);
    const [idx, rm] = withShort[0] as readonly [number, ResourceMetrics];
    assert.ok(idx >= exportsBefore[name], `reader ${name}: exported before it was added`);
    assertNoDuplicateSeries(rm);
    assert.equal(taskValue(rm, 'container.cpu.time', 'short', { 'cpu.mode': 'user' }), AFTER_EXIT.cpuUser);
    assert.equal(taskValue(rm, 'container.cpu.time', 'short', { 'cpu.mode': 'system' }), AFTER_EXIT.cpuSystem);
    assert.equal(taskValue(rm, 'container.memory.usage', 'short'), AFTER_EXIT.memoryUsage);
    assert.equal(taskValue(rm, 'container.cpu.limit', 'short'), 0.5);
    assert.equal(taskValue(rm, 'container.pids.limit', 'short'), 64);
    const cpu = taskPoints(rm, 'container.cpu.time', 'short', { 'cpu.mode': 'user' })[0];
    assert.ok(cpu);
    assert.equal(hrMs(cpu.startTime), start, 'cumulative start time is the task start time');
    assert.equal(hrMs(cpu.endTime), stopTime, 'the final point is stamped with the time of the final read');
    assert.equal(cpu.attributes['container.name'], 'shorty');
    assert.equal(cpu.attributes['container.namespace'], 'default');
    assert.equal(taskValue(rm, 'container.uptime', 'short'), (stopTime - start) / 1000);
    // The live task is there with the loaded fixture's values in the same export.
    assert.equal(taskValue(rm, 'container.cpu.time', 'live', { 'cpu.mode': 'user' }), LOADED.cpuUser);
    assert.equal(taskValue(rm, 'container.cpu.time', 'live', { 'cpu.mode': 'system' }), LOADED.cpuSystem);
    assert.equal(taskValue(rm, 'container.cpu.throttling_data.throttled_time', 'live'), LOADED.throttledTime);
    assert.equal(taskValue(rm, 'container.memory.usage.limit', 'live'), LOADED.memoryLimit);
    // The fixture machine's names, given to the engine: nothing depends on this host's block devices.
    assert.equal(taskValue(rm, 'container.disk.io', 'live', { 'disk.io.direction': 'read', 'system.device': 'vda' }), LOADED.diskReadBytes);
    // ...and in every later export, without the short task.
    for (const later of all.slice(idx + 1)) {
      assert.deepEqual([...idsIn(later)], ['live'], `reader ${name}: the short task's series are gone after delivery`);
      assert.ok(!allPoints(later).some((p) => p.point.attributes['container.id'] === 'short'));
    }
  }
});

test('two readers, one collecting more often (every 50 ms and every 250 ms): each of 200 final readings reaches each reader exactly once', async (t) => {
  const N = 200;
  const tree = new TempV2Tree();
  t.after(() => tree.cleanup());
  // pids.current is 2 in the fixture; it is set to 0 just before stop(), so a 0 marks the final reading.
  const files = ['cpu.stat', 'cpu.max', 'pids.current', 'pids.max'];
  for (let i = 0; i < N; i++) tree.addCgroup(`t${i}`, V2.loaded, files);
  const cg = new CgroupMetrics({ root: tree.root, groups: ['cpu', 'pids'] });
  const fast = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const slow = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const rFast = new PeriodicExportingMetricReader({
    exporter: fast,
    exportIntervalMillis: 50,
    exportTimeoutMillis: 50,
    metricProducers: [cg.producer({ temporality: fast })],
  });
  const rSlow = new PeriodicExportingMetricReader({
    exporter: slow,
    exportIntervalMillis: 250,
    exportTimeoutMillis: 250,
    metricProducers: [cg.producer({ temporality: slow })],
  });
  const mp = new MeterProvider({ readers: [rFast, rSlow] });
  t.after(() => mp.shutdown());

  const results = new Map<string, StopResult>();
  let rnd = 0x2545f491;
  const random = (): number => {
    rnd = (rnd * 1103515245 + 12345) & 0x7fffffff;
    return rnd / 0x7fffffff;
  };
  const done: Array<Promise<void>> = [];
  for (let i = 0; i < N; i++) {
    const id = `t${i}`;
    const addAt = random() * 1500;
    // A third live for 0 ms (added and stopped in one go), the rest up to 600 ms.
    const life = random() < 0.33 ? 0 : random() * 600;
    done.push(
      new Promise<void>((resolve, reject) => {
        setTimeout(() => {
          cg.add({ id, cgroup: `/${id}` });
          const stop = (): void => {
            fs.writeFileSync(path.join(tree.dir(id), 'pids.current'), '0\n');
            cg.stop(id).then((r) => {
              results.set(id, r);
              resolve();
            }, reject);
          };
          if (life === 0) stop();
          else setTimeout(stop, life);
        }, addAt);
      }),
    );
  }
  await Promise.all(done);
  await rFast.forceFlush();
  await rSlow.forceFlush();
  assert.equal(cg.size, 0);

  const nFast = fast.getMetrics().length;
  const nSlow = slow.getMetrics().length;
  // The readers' cursors move at different rates (the case under test); how many times each
  // exported depends on the machine's timers, so only their order is asserted.
  console.log(`# fast reader: ${nFast} exports, slow reader: ${nSlow}`);
  assert.ok(nFast > nSlow, `the fast reader exported ${nFast} times, the slow one ${nSlow}`);
  for (const [name, exp] of [
    ['fast', fast],
    ['slow', slow],
  ] as const) {
    const finals = new Map<string, number>();
    const finalAt = new Map<string, number>();
    exp.getMetrics().forEach((rm, i) => {
      assertNoDuplicateSeries(rm);
      for (const p of points(rm, 'container.pids.current')) {
        const id = String(p.attributes['container.id']);
        assert.ok(!finalAt.has(id) || finalAt.get(id) === i, `${name}: ${id} exported after its final reading`);
        if (p.value !== 0) continue;
        finals.set(id, (finals.get(id) ?? 0) + 1);
        finalAt.set(id, i);
        assert.equal(hrMs(p.endTime), results.get(id)?.timeMs, `${name}: ${id}'s final point is the reading taken at stop`);
        assert.equal(taskValue(rm, 'container.cpu.time', id, { 'cpu.mode': 'user' }), LOADED.cpuUser);
      }
      for (const id of idsIn(rm)) assert.ok(!finalAt.has(id) || finalAt.get(id) === i, `${name}: ${id} exported after its final reading`);
    });
    const missing = [...results.keys()].filter((id) => !finals.has(id));
    assert.deepEqual(missing, [], `${name}: final readings never delivered`);
    const twice = [...finals].filter(([, n]) => n !== 1);
    assert.deepEqual(twice, [], `${name}: final readings delivered more than once`);
    assert.equal(finals.size, N);
  }
  for (const r of results.values()) assert.equal(r.source, 'read');
});

test("after delivery the stopped task is absent from that reader's next collection; the others remain", async () => {
  const cg = new CgroupMetrics({ root: V2.loaded });
  const r1 = new TestReader({ metricProducers: [cg.producer()] });
  const r2 = new TestReader({ metricProducers: [cg.producer()] });
  new MeterProvider({ readers: [r1, r2] });
  const start = Date.now() - 5_000;
  for (const id of ['a', 'b', 'c']) cg.add({ id, cgroup: '/', startTime: start });
  for (const r of [r1, r2]) assert.deepEqual([...idsIn((await r.collect()).resourceMetrics)].sort(), ['a', 'b', 'c']);

  const res = await cg.stop('b');
  assert.equal(res.source, 'read');

  const c1 = (await r1.collect()).resourceMetrics;
  assert.deepEqual([...idsIn(c1)].sort(), ['a', 'b', 'c'], "r1 gets b's final reading");
  assert.equal(taskValue(c1, 'container.cpu.time', 'b', { 'cpu.mode': 'user' }), LOADED.cpuUser);
  assert.equal(hrMs(taskPoints(c1, 'container.cpu.time', 'b')[0]?.endTime ?? [0, 0]), res.timeMs);
  assert.equal(hrMs(taskPoints(c1, 'container.cpu.time', 'b')[0]?.startTime ?? [0, 0]), start);
  assert.equal(selfValue(c1, 'cgroup_metrics.tasks'), 2);
  assert.equal(selfValue(c1, 'cgroup_metrics.final_readings.pending'), 0, "r1's own pending: it took b's final reading");

  const c1b = (await r1.collect()).resourceMetrics;
  assert.deepEqual([...idsIn(c1b)].sort(), ['a', 'c']);
  assert.ok(!allPoints(c1b).some((p) => p.point.attributes['container.id'] === 'b'), 'no series of b in any metric');
  assert.equal(taskPoints(c1b, 'container.paging.faults', 'a').length, 2, 'a keeps all its series');

  const c2 = (await r2.collect()).resourceMetrics;
  assert.deepEqual([...idsIn(c2)].sort(), ['a', 'b', 'c'], "r2 still gets b's final reading");
  assert.equal(taskValue(c2, 'container.pids.current', 'b'), LOADED.pids);
  assert.equal(selfValue(c2, 'cgroup_metrics.final_readings.pending'), 0);
  const c2b = (await r2.collect()).resourceMetrics;
  assert.deepEqual([...idsIn(c2b)].sort(), ['a', 'c']);
  assert.ok(!allPoints(c2b).some((p) => p.point.attributes['container.id'] === 'b'));

  // A later reader sees nothing of b either: the queue freed it once both readers took it.
  const r3 = new TestReader({ metricProducers: [cg.producer()] });
  new MeterProvider({ readers: [r3] });
  assert.deepEqual([...idsIn((await r3.collect()).resourceMetrics)].sort(), ['a', 'c']);
  await sleep(0);
});

test('delta: a task that one collection did not read (deadline) continues its series; deltas still sum to the cumulative value', async () => {
  const N = 3000;
  const cg = new CgroupMetrics({ root: V2.loaded, groups: ['cpu'] });
  const r = new TestReader({ metricProducers: [cg.producer({ temporality: AggregationTemporality.DELTA })] });
  new MeterProvider({ readers: [r] });
  const start = Date.now() - 1000;
  for (let i = 0; i < N; i++) cg.add({ id: `t${i}`, cgroup: '/', startTime: start });
  const c1 = (await r.collect({ timeoutMillis: 30_000 })).resourceMetrics;
  // Cut off at a tenth of the full read just measured: only the first tasks are read, however fast the machine.
  const cutMs = Math.max(1, ((selfValue(c1, 'cgroup_metrics.collection.duration') as number) * 1000) / 10);
  const c2 = (await r.collect({ timeoutMillis: cutMs })).resourceMetrics;
  const c3 = (await r.collect({ timeoutMillis: 30_000 })).resourceMetrics;
  const read2 = idsIn(c2);
  assert.equal(idsIn(c1).size, N);
  assert.equal(idsIn(c3).size, N);
  assert.ok(read2.size < N, `all ${N} tasks were read within ${cutMs.toFixed(1)} ms: the deadline did not cut the collection off`);
  let skipped = 0;
  for (let i = 0; i < N; i++) {
    const id = `t${i}`;
    const ps = [c1, c2, c3].flatMap((rm) => taskPoints(rm, 'container.cpu.time', id, { 'cpu.mode': 'user' }));
    if (!read2.has(id)) skipped++;
    assert.equal(ps.length, read2.has(id) ? 3 : 2);
    assert.equal(hrMs((ps[0] as { startTime: [number, number] }).startTime), start);
    for (let k = 1; k < ps.length; k++) {
      assert.equal(
        hrMs((ps[k] as { startTime: [number, number] }).startTime),
        hrMs((ps[k - 1] as { endTime: [number, number] }).endTime),
        `${id}: point ${k} does not continue the series`,
      );
    }
    const sum = ps.reduce((s, p) => s + p.value, 0);
    assert.ok(Math.abs(sum - LOADED.cpuUser) < 1e-9, `${id}: deltas sum to ${sum}, the counter is ${LOADED.cpuUser}`);
  }
  assert.ok(skipped > 0);
});
