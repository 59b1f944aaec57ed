/**
 * Final readings of real cgroup v1 tasks (root, v1 hierarchies under /sys/fs/cgroup): a child
 * burns CPU inside a fresh cgroup and exits; stop() reads the cgroup one last time and every
 * reader gets that reading, cumulative or delta. The tests fail (never skip) without root.
 */
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type DataPoint,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CgroupMetrics } from '../../src/index.ts';
import { TestReader, V1Cgroup, assertV1FirstSplit, hrMs, idsIn, metric, sleep, spawnBurner, taskPoints, taskValue } from './helpers.ts';

const close = (a: number, b: number, what: string): void => assert.ok(Math.abs(a - b) < 1e-9, `${what}: ${a} != ${b}`);

test('real v1 cgroup with a CPU burner: the final reading after stop() holds the whole burn, for every reader', async (t) => {
  const cgv1 = new V1Cgroup(['cpu', 'cpuacct', 'memory', 'pids']);
  const burner = await spawnBurner(500);
  t.after(async () => {
    burner.kill();
    await cgv1.remove();
  });
  const cg = new CgroupMetrics({ groups: ['cpu', 'memory', 'pids'] });
  const r1 = new TestReader({ metricProducers: [cg.producer()] });
  const r2 = new TestReader({ metricProducers: [cg.producer()] });
  new MeterProvider({ readers: [r1, r2] });
  const id = cgv1.name;
  const start = Date.now();
  cg.add({ id, cgroup: cgv1.path, startTime: start });
  cgv1.enter(burner.pid); // before the child starts burning: it waits for a line on stdin
  const before = await r1.collect();
  assert.ok((taskValue(before.resourceMetrics, 'container.pids.current', id) ?? 0) >= 1, 'the child (and its threads) are in the cgroup');

  const burn = await burner.burn();
  const res = await cg.stop(id);
  const ns = cgv1.cpuNs(); // the files, right after the final read (the cgroup is empty: they do not move)
  assert.equal(res.source, 'read');
  assert.ok(res.stats?.version === 1);
  assert.equal(res.stats.cpu?.usageUserNs, ns.sampledUser);
  assert.equal(res.stats.cpu?.usageSysNs, ns.sampledSys);

  for (const r of [r1, r2]) {
    const rm = (await r.collect()).resourceMetrics;
    const user = taskValue(rm, 'container.cpu.time', id, { 'cpu.mode': 'user' }) as number;
    const sys = taskValue(rm, 'container.cpu.time', id, { 'cpu.mode': 'system' }) as number;
    console.log(`# burner: ${burn.cpuMs.toFixed(0)} ms CPU in ${burn.wallMs} ms; final container.cpu.time user ${user} s + system ${sys} s`);
    assert.ok(user + sys >= (0.8 * burn.cpuMs) / 1000, `final CPU time ${(user + sys).toFixed(3)} s < 0.8 x the ${burn.cpuMs.toFixed(0)} ms burn`);
    // The earlier reading found the child not yet run (all counters 0): the final's split is a first one's.
    assertV1FirstSplit(user, sys, ns, 'the final reading');
    assert.equal(taskValue(rm, 'container.pids.current', id), 0, 'the child has exited');
    const p = taskPoints(rm, 'container.cpu.time', id)[0];
    assert.equal(hrMs(p?.startTime ?? [0, 0]), start);
    assert.equal(hrMs(p?.endTime ?? [0, 0]), res.timeMs);
    assert.ok(!idsIn((await r.collect()).resourceMetrics).has(id), 'gone after delivery');
  }
});

interface Seen {
  user: Array<DataPoint<number>>;
  system: Array<DataPoint<number>>;
}

function cpuPoints(rms: readonly ResourceMetrics[], id: string): Seen {
  const seen: Seen = { user: [], system: [] };
  for (const rm of rms) {
    const m = metric(rm, 'container.cpu.time');
    if (!m) continue;
    assert.equal(m.dataPointType, DataPointType.SUM);
    assert.equal(m.aggregationTemporality, AggregationTemporality.DELTA);
    seen.user.push(...taskPoints(rm, 'container.cpu.time', id, { 'cpu.mode': 'user' }));
    seen.system.push(...taskPoints(rm, 'container.cpu.time', id, { 'cpu.mode': 'system' }));
  }
  return seen;
}

/** Delta points of one series: each starts where the previous ended, the first at `start`; returns their sum. */
function checkChain(ps: ReadonlyArray<DataPoint<number>>, start: number, what: string): number {
  assert.ok(ps.length > 0, `${what}: no points`);
  let sum = 0;
  ps.forEach((p, i) => {
    const expectedStart = i === 0 ? start : hrMs((ps[i - 1] as DataPoint<number>).endTime);
    assert.equal(hrMs(p.startTime), expectedStart, `${what}: point ${i} starts at the previous point's end`);
    assert.ok(hrMs(p.endTime) >= hrMs(p.startTime));
    assert.ok(p.value >= 0, `${what}: negative delta ${p.value}`);
    sum += p.value;
  });
  return sum;
}

test('delta temporality through the producer: deltas of a burning v1 cgroup sum to the cumulative values; a re-added id starts a new series', async (t) => {
  const cgv1 = new V1Cgroup(['cpu', 'cpuacct']);
  const burner = await spawnBurner(700);
  const exporter = new InMemoryMetricExporter(AggregationTemporality.DELTA);
  const cg = new CgroupMetrics({ groups: ['cpu'] });
  const rCum = new TestReader({ metricProducers: [cg.producer()] });
  const rDelta = new TestReader({ metricProducers: [cg.producer({ temporality: AggregationTemporality.DELTA })] });
  const periodic = new PeriodicExportingMetricReader({
    exporter,
    exportIntervalMillis: 100,
    exportTimeoutMillis: 100,
    metricProducers: [cg.producer({ temporality: exporter })],
  });
  const mp = new MeterProvider({ readers: [rCum, rDelta, periodic] });
  t.after(async () => {
    burner.kill();
    await mp.shutdown();
    await cgv1.remove();
  });
  const id = 'burner';
  const start = Date.now() - 10;
  cg.add({ id, cgroup: cgv1.path, startTime: start });
  cgv1.enter(burner.pid);

  const cum: ResourceMetrics[] = [];
  const del: ResourceMetrics[] = [];
  const collectBoth = async (): Promise<void> => {
    // Concurrent collections share one read: the cumulative and the delta reader see the same values.
    const [c, d] = await Promise.all([rCum.collect(), rDelta.collect()]);
    cum.push(c.resourceMetrics);
    del.push(d.resourceMetrics);
  };
  await collectBoth();
  let exited = false;
  const burnP = burner.burn().then((b) => {
    exited = true;
    return b;
  });
  while (!exited) {
    await sleep(80);
    await collectBoth();
  }
  const burn = await burnP;
  const res = await cg.stop(id);
  assert.equal(res.source, 'read');
  await collectBoth(); // delivers the final reading
  const ns = cgv1.cpuNs();
  // The split by mode depends on the readings taken (each increase is split by the sampled
  // counters' increases, so that both modes only grow): the final reading's, summing to cpuacct.usage.
  assert.ok(res.stats?.version === 1);
  const finalNs = { user: res.stats.cpu?.userNs ?? NaN, system: res.stats.cpu?.systemNs ?? NaN };
  close((finalNs.user + finalNs.system) / 1e9, ns.usage / 1e9, 'the modes sum to cpuacct.usage');

  const d = cpuPoints(del, id);
  assert.equal(d.user.length, del.length, 'one delta point per collection, the final one included');
  const positive = d.user.filter((p, i) => i > 0 && p.value > 0).length;
  console.log(`# delta: ${del.length} collections over a ${burn.cpuMs.toFixed(0)} ms burn, ${positive} with a positive user delta`);
  assert.ok(positive >= 3, `only ${positive} collections saw CPU time: not a test of deltas`);
  for (const mode of ['user', 'system'] as const) {
    const ps = d[mode];
    const sum = checkChain(ps, start, `delta ${mode}`);
    // Running sums equal the cumulative reader's values at every collection.
    let running = 0;
    ps.forEach((p, i) => {
      running += p.value;
      const c = taskValue(cum[i] as ResourceMetrics, 'container.cpu.time', id, { 'cpu.mode': mode });
      close(running, c as number, `${mode} running sum at collection ${i}`);
      const cp = taskPoints(cum[i] as ResourceMetrics, 'container.cpu.time', id, { 'cpu.mode': mode })[0];
      assert.equal(hrMs(cp?.startTime ?? [0, 0]), start, 'cumulative points start at the task start');
      assert.equal(hrMs(cp?.endTime ?? [0, 0]), hrMs(p.endTime));
    });
    close(sum, finalNs[mode] / 1e9, `${mode} deltas sum to the final reading`);
    assert.equal(hrMs((ps[ps.length - 1] as DataPoint<number>).endTime), res.timeMs, 'the last delta ends at the final reading');
  }

  // Re-add the same id: a new series with a new start time.
  const start2 = Date.now();
  cg.add({ id, cgroup: cgv1.path, startTime: start2 });
  await collectBoth();
  await sleep(5);
  await collectBoth();
  const d2 = cpuPoints(del.slice(-2), id);
  assert.equal(d2.user.length, 2);
  const sum2 = checkChain(d2.user, start2, 'second incarnation');
  // A new series starts with the whole counter, split as a first reading; the idle cgroup adds nothing.
  assertV1FirstSplit((d2.user[0] as DataPoint<number>).value, (d2.system[0] as DataPoint<number>).value, ns, 'a new series starts with the whole counter');
  close(sum2, (d2.user[0] as DataPoint<number>).value, 'the idle cgroup adds nothing');
  assert.equal(hrMs(taskPoints(cum[cum.length - 1] as ResourceMetrics, 'container.cpu.time', id)[0]?.startTime ?? [0, 0]), start2);

  // The same through a PeriodicExportingMetricReader whose exporter selects DELTA.
  await sleep(250); // a few periodic exports of the second incarnation
  const res2 = await cg.stop(id);
  // Two collections: if the first final had not reached this reader before the re-add, the
  // second incarnation's final waits one collection (one point per series and collection).
  await periodic.forceFlush();
  await periodic.forceFlush();
  const all = cpuPoints(exporter.getMetrics(), id);
  const secondSums = { user: 0, system: 0 };
  for (const mode of ['user', 'system'] as const) {
    const first = all[mode].filter((p) => hrMs(p.startTime) < start2);
    const second = all[mode].filter((p) => hrMs(p.startTime) >= start2);
    assert.equal(first.length + second.length, all[mode].length);
    close(checkChain(first, start, `periodic ${mode}, first incarnation`), finalNs[mode] / 1e9, `periodic ${mode} deltas`);
    assert.equal(hrMs((first[first.length - 1] as DataPoint<number>).endTime), res.timeMs);
    secondSums[mode] = checkChain(second, start2, `periodic ${mode}, second incarnation`);
    assert.equal(hrMs((second[second.length - 1] as DataPoint<number>).endTime), res2.timeMs);
  }
  // The second incarnation read an idle cgroup: its deltas sum to a first reading's split of the kernel's counters.
  assertV1FirstSplit(secondSums.user, secondSums.system, ns, 'periodic, second incarnation');
  console.log(`# periodic delta exporter: ${exporter.getMetrics().length} exports, ${all.user.length} user points`);
});
