/**
 * The observable-instrument path: cgroups.observe(meter) registers one batch callback that is
 * one consumer of the final-readings queue; the SDK fans its observations out to every reader
 * of the MeterProvider. What the SDK does afterwards with a stopped task's attribute sets
 * (opentelemetry-js#4096) is asserted here as measured with @opentelemetry/sdk-metrics 2.12.
 */
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CgroupMetrics } from '../../src/index.ts';
import { AFTER_EXIT, LOADED, TempV2Tree, TestReader, V2, hrMs, idsIn, points, selfValue, spyMeter, taskValue, waitFor } from './helpers.ts';

test('a task that lives less than one collection interval reaches every periodic reader with its final values (observe)', async (t) => {
  const tree = new TempV2Tree();
  t.after(() => tree.cleanup());
  tree.addCgroup('live', V2.loaded);
  tree.addCgroup('short', V2.afterExit);
  const cg = new CgroupMetrics({ root: tree.root });
  const expC = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const expD = new InMemoryMetricExporter(AggregationTemporality.DELTA);
  const rC = new PeriodicExportingMetricReader({ exporter: expC, exportIntervalMillis: 100, exportTimeoutMillis: 100 });
  const rD = new PeriodicExportingMetricReader({ exporter: expD, exportIntervalMillis: 300, exportTimeoutMillis: 300 });
  const mp = new MeterProvider({ readers: [rC, rD] });
  t.after(() => mp.shutdown());
  const { meter, log } = spyMeter(mp.getMeter('otel-cgroup-metrics-test'));
  const handle = cg.observe(meter);
  t.after(() => handle.unregister());

  cg.add({ id: 'live', cgroup: '/live' });
  await waitFor(() => expC.getMetrics().length >= 2 && expD.getMetrics().length >= 1, 5_000, 'first exports');
  const before = { C: expC.getMetrics().length, D: expD.getMetrics().length };
  cg.add({ id: 'short', cgroup: '/short' });
  const res = await cg.stop('short');
  assert.equal(res.source, 'read');
  await waitFor(() => expC.getMetrics().length >= before.C + 3 && expD.getMetrics().length >= before.D + 2, 5_000, 'exports after the stop');

  assert.equal(log.byTask.get('short')?.size, 1, 'the batch callback observed the final reading in exactly one invocation');

  for (const [name, exp] of [
    ['cumulative', expC],
    ['delta', expD],
  ] as const) {
    const all = exp.getMetrics();
    const first = all.findIndex((rm) => idsIn(rm).has('short'));
    assert.ok(first >= before[name === 'cumulative' ? 'C' : 'D'], `${name}: the short task was never exported`);
    const rm = all[first] as ResourceMetrics;
    // The first point of a series is its whole value on both temporalities.
    assert.equal(taskValue(rm, 'container.cpu.time', 'short', { 'cpu.mode': 'user' }), AFTER_EXIT.cpuUser);
    assert.equal(taskValue(rm, 'container.cpu.time', 'short', { 'cpu.mode': 'system' }), AFTER_EXIT.cpuSystem);
    assert.equal(taskValue(rm, 'container.memory.usage', 'short'), AFTER_EXIT.memoryUsage);
    assert.equal(taskValue(rm, 'container.pids.limit', 'short'), 64);
    // The live task in the same export: its whole value (cumulative), no change since the last export (delta).
    assert.equal(taskValue(rm, 'container.cpu.time', 'live', { 'cpu.mode': 'user' }), name === 'cumulative' ? LOADED.cpuUser : 0);
    const later = all.slice(first + 1).filter((x) => idsIn(x).has('short')).length;
    if (name === 'cumulative') {
      // opentelemetry-js#4096: the cumulative reader keeps exporting the stopped task's last value.
      assert.equal(later, all.length - first - 1, 'cumulative: the stopped task stays in every later export (#4096)');
    } else {
      assert.equal(later, 0, 'delta: the stopped task is exported once');
    }
  }
});

test('observe(meter): the callback observes a final reading once, the SDK fans it out to every reader; #4096 as measured', async () => {
  const cg = new CgroupMetrics({ root: V2.loaded, groups: ['cpu'] });
  const rA = new TestReader();
  const rB = new TestReader();
  const rD = new TestReader({ aggregationTemporalitySelector: () => AggregationTemporality.DELTA });
  const mp = new MeterProvider({ readers: [rA, rB, rD] });
  const { meter, log } = spyMeter(mp.getMeter('otel-cgroup-metrics-test'));
  const handle = cg.observe(meter);
  assert.ok(handle.instruments.has('container.cpu.time'));
  assert.ok(handle.instruments.has('cgroup_metrics.final_readings.dropped'));

  cg.add({ id: 'live', cgroup: '/' });
  for (const r of [rA, rB, rD]) assert.deepEqual([...idsIn((await r.collect()).resourceMetrics)], ['live']);
  assert.equal(log.invocations, 3, 'the SDK runs the batch callback once per reader collection');

  cg.add({ id: 'short', cgroup: '/' });
  const res = await cg.stop('short');
  assert.equal(res.source, 'read');

  const a1 = (await rA.collect()).resourceMetrics;
  assert.equal(taskValue(a1, 'container.cpu.time', 'short', { 'cpu.mode': 'user' }), LOADED.cpuUser);
  assert.equal(taskValue(a1, 'container.cpu.time', 'short', { 'cpu.mode': 'system' }), LOADED.cpuSystem);
  assert.equal(taskValue(a1, 'container.cpu.throttling_data.throttled_time', 'short'), LOADED.throttledTime);
  assert.deepEqual([...(log.byTask.get('short') ?? [])], [4], "observed in rA's collection (invocation 4) only");
  assert.equal(selfValue(a1, 'cgroup_metrics.final_readings.pending'), 0, 'one consumer for all readers: taken once');

  // rB's and rD's collections run the callback again; it does not observe 'short' any more,
  // yet both readers get its final value: the SDK kept rA's observation for them.
  const b1 = (await rB.collect()).resourceMetrics;
  const d1 = (await rD.collect()).resourceMetrics;
  assert.equal(log.invocations, 6);
  assert.deepEqual([...(log.byTask.get('short') ?? [])], [4], 'the final reading is observed exactly once in all');
  for (const rm of [b1, d1]) {
    assert.equal(taskValue(rm, 'container.cpu.time', 'short', { 'cpu.mode': 'user' }), LOADED.cpuUser);
    assert.equal(taskValue(rm, 'container.cpu.time', 'short', { 'cpu.mode': 'system' }), LOADED.cpuSystem);
  }

  // opentelemetry-js#4096, as sdk-metrics 2.12 behaves (measured here, quoted by the README):
  // a CUMULATIVE reader never forgets the attribute set of an async instrument, so the stopped
  // task's last values stay in every later collection, frozen, with their original start time;
  // a DELTA reader exports it once and then drops it (it was not observed again).
  for (let i = 0; i < 3; i++) {
    const a = (await rA.collect()).resourceMetrics;
    const b = (await rB.collect()).resourceMetrics;
    const d = (await rD.collect()).resourceMetrics;
    for (const rm of [a, b]) {
      assert.deepEqual([...idsIn(rm)].sort(), ['live', 'short'], '#4096: the stopped task stays exported (cumulative)');
      assert.equal(taskValue(rm, 'container.cpu.time', 'short', { 'cpu.mode': 'user' }), LOADED.cpuUser);
    }
    assert.deepEqual([...idsIn(d)], ['live'], 'delta reader: the stopped task is gone after one export');
  }
  assert.deepEqual([...(log.byTask.get('short') ?? [])], [4]);
  // The producer never does this (producer.test.ts); the stale cumulative point's end time
  // moves on with each collection while its value and start time stay.
  const stale = points((await rA.collect()).resourceMetrics, 'container.cpu.time').find((p) => p.attributes['container.id'] === 'short');
  assert.ok(stale && hrMs(stale.endTime) > (res.timeMs as number));

  handle.unregister();
});

test('observe(meter) under churn: sdk-metrics 2.12 overflows once an instrument has seen 2000 attribute sets (#4096)', async () => {
  const cg = new CgroupMetrics({ root: V2.loaded, groups: ['cpu'] });
  const rC = new TestReader();
  const rD = new TestReader({ aggregationTemporalitySelector: () => AggregationTemporality.DELTA });
  const mp = new MeterProvider({ readers: [rC, rD] });
  const handle = cg.observe(mp.getMeter('otel-cgroup-metrics-test'));
  const BATCH = 250;
  let c: ResourceMetrics | undefined;
  let d: ResourceMetrics | undefined;
  for (let b = 0; b < 6; b++) {
    const stops: Array<Promise<unknown>> = [];
    for (let i = 0; i < BATCH; i++) {
      cg.add({ id: `s${b}-${i}`, cgroup: '/' });
      stops.push(cg.stop(`s${b}-${i}`));
    }
    await Promise.all(stops);
    c = (await rC.collect()).resourceMetrics;
    d = (await rD.collect()).resourceMetrics;
  }
  assert.ok(c && d);
  // 1500 stopped tasks, none registered now. container.cpu.time has two series per task
  // (cpu.mode user/system): capped at 2000 series including one otel.metric.overflow series,
  // i.e. after 999.5 tasks every new task's CPU time goes into the overflow series.
  const cpuC = points(c, 'container.cpu.time');
  assert.equal(cpuC.length, 2000, 'cumulative: capped at 2000 series');
  const overflowC = cpuC.filter((p) => p.attributes['otel.metric.overflow'] === true);
  assert.equal(overflowC.length, 1);
  assert.ok(!idsIn(c).has('s5-0'), 'the last tasks have no series of their own in container.cpu.time');
  // container.cpu.limit (one series per task) is below the limit: all 1500 stopped tasks are still exported.
  assert.equal(points(c, 'container.cpu.limit').length, 1500, 'cumulative: every stopped task stays exported (#4096)');
  assert.equal(idsIn(c, 'container.cpu.limit').size, 1500);
  // The delta reader forgets nothing either: its storage overflowed the same way, and new tasks
  // reach it only through the overflow series.
  const cpuD = points(d, 'container.cpu.time');
  assert.equal(cpuD.length, 1);
  assert.equal(cpuD[0]?.attributes['otel.metric.overflow'], true);
  handle.unregister();
});
