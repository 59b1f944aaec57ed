import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { AggregationTemporality, MeterProvider, MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { CgroupMetrics } from '../../src/index.ts';
import { TempV2Tree, V2 } from './helpers.ts';

// A Prometheus endpoint is ONE reader however many servers scrape it: with finalHoldMs every
// scrape within the hold sees the final reading, then it is gone; a re-added id replaces it.
const LOADED = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/cgroup-v2-kernel-6.18/loaded');

class Reader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

function cpuUser(rm: ResourceMetrics, id: string): number[] {
  const m = rm.scopeMetrics.flatMap((s) => s.metrics).find((x) => x.descriptor.name === 'container.cpu.time');
  return (m?.dataPoints ?? []).filter((p) => p.attributes['container.id'] === id && p.attributes['cpu.mode'] === 'user').map((p) => p.value as number);
}

test('finalHoldMs: a final reading stays on every collection within the hold, once per series, then vanishes', async () => {
  const cg = new CgroupMetrics({ root: LOADED, groups: ['cpu'] });
  const reader = new Reader({ metricProducers: [cg.producer({ finalHoldMs: 300 })] });
  new MeterProvider({ readers: [reader] });
  cg.add({ id: 'job', cgroup: '/' });
  await cg.stop('job');
  const scrapes: number[][] = [];
  for (let i = 0; i < 3; i++) scrapes.push(cpuUser((await reader.collect()).resourceMetrics, 'job'));
  assert.deepEqual(scrapes, [[0.840607], [0.840607], [0.840607]], 'one point per scrape, the final value');
  await sleep(350);
  assert.deepEqual(cpuUser((await reader.collect()).resourceMetrics, 'job'), [], 'gone after the hold');
});

test('finalHoldMs: a re-added id replaces the held final (never two series alike); default 0 is exactly once', async (t) => {
  // The two incarnations read different cgroups (the fixtures `loaded` and `after_exit`), so a
  // held final (user 0.840607 s) cannot pass for the new incarnation's live reading (0.892034 s).
  const tree = new TempV2Tree();
  t.after(() => tree.cleanup());
  const first = tree.addCgroup('first', V2.loaded, ['cpu.stat']);
  const second = tree.addCgroup('second', V2.afterExit, ['cpu.stat']);
  const cg = new CgroupMetrics({ root: tree.root, groups: ['cpu'] });
  const held = new Reader({ metricProducers: [cg.producer({ finalHoldMs: 60_000 })] });
  const exact = new Reader({ metricProducers: [cg.producer()] });
  new MeterProvider({ readers: [held, exact] });
  cg.add({ id: 'job', cgroup: first });
  await cg.stop('job');
  assert.deepEqual(cpuUser((await held.collect()).resourceMetrics, 'job'), [0.840607]);
  assert.deepEqual(cpuUser((await held.collect()).resourceMetrics, 'job'), [0.840607], 'held');
  assert.deepEqual(cpuUser((await exact.collect()).resourceMetrics, 'job'), [0.840607]);
  assert.deepEqual(cpuUser((await exact.collect()).resourceMetrics, 'job'), [], 'exactly once without a hold');
  cg.add({ id: 'job', cgroup: second });
  const again = (await held.collect()).resourceMetrics;
  assert.deepEqual(cpuUser(again, 'job'), [0.892034], 'the new incarnation alone, not the held final');
  const m = again.scopeMetrics.flatMap((s) => s.metrics).find((x) => x.descriptor.name === 'container.cpu.time');
  const starts = new Set(m?.dataPoints.map((p) => p.startTime.join('.')));
  assert.equal(starts.size, 1, 'one incarnation on the page');
});

test('finalHoldMs is ignored under delta temporality (a delta must not be repeated)', async () => {
  const cg = new CgroupMetrics({ root: LOADED, groups: ['cpu'] });
  const reader = new Reader({ metricProducers: [cg.producer({ finalHoldMs: 60_000, temporality: AggregationTemporality.DELTA })] });
  new MeterProvider({ readers: [reader] });
  cg.add({ id: 'job', cgroup: '/' });
  await cg.stop('job');
  assert.deepEqual(cpuUser((await reader.collect()).resourceMetrics, 'job'), [0.840607]);
  assert.deepEqual(cpuUser((await reader.collect()).resourceMetrics, 'job'), []);
});
