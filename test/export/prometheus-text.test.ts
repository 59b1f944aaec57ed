/**
 * PrometheusTextWriter: the endpoint's page, written by hand, is byte for byte the page of the
 * exporter's own PrometheusSerializer('', false), on whichever OpenTelemetry JS line resolves
 * (CI runs this file on 2.x and 3.x). Real sdk-metrics data and the engine's own producer over a
 * real kernel's cgroup files (names with quotes, backslashes, newlines and non-ASCII; a final
 * reading; a task renamed between scrapes); arbitrary pages from fast-check, where the writer
 * either writes the page itself or hands it to the serializer (histograms, two metrics with one
 * Prometheus name), and the event loop turns while it writes.
 */
import type { Attributes } from '@opentelemetry/api';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType, MeterProvider, type MetricData, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import fc from 'fast-check';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startExportPipeline } from '../../src/export/pipeline.ts';
import { prometheusNamingProducer } from '../../src/export/prometheus-naming.ts';
import { PrometheusTextWriter } from '../../src/export/prometheus-text.ts';
import { CgroupMetrics } from '../../src/index.ts';
import { agentResource } from '../../src/export/resource.ts';
import { TEST_SETTINGS, V2_CGROUP } from '../helpers/export-settings.ts';
import { loopTurnsDuring } from '../helpers/loop-turns.ts';
import { TestReader, V2 } from '../metrics/helpers.ts';

const serializer = new PrometheusSerializer('', false);

async function sdkMetrics(tasks: number, withHistogram: boolean): Promise<ResourceMetrics> {
  const reader = new TestReader();
  const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': 'ocm "test"', 'host.name': 'h\\1' }), readers: [reader] });
  const meter = provider.getMeter('otel-cgroup-metrics', '0.1.0');
  const cpu = meter.createCounter('container.cpu.time', { unit: 's', description: 'CPU time "by mode"\nsecond line \\' });
  const mem = meter.createUpDownCounter('container.memory.usage', { unit: 'By' });
  const gauge = meter.createObservableGauge('container.uptime', { unit: 's', description: 'uptime' });
  gauge.addCallback((r) => {
    for (let i = 0; i < tasks; i++) r.observe(i * 1.5, { 'container.id': `c${i}`, n: i, ok: i % 2 === 0, list: [`x${i}`, 'y"'] });
  });
  meter.createCounter('1bad-name'); // a name the serializer rewrites (no points: its header alone)
  meter.createCounter('counter_total', { description: '' });
  if (withHistogram) meter.createHistogram('cgroup_metrics.collection.duration', { unit: 's' }).record(0.25);
  for (let i = 0; i < tasks; i++) {
    for (const mode of ['user', 'system']) cpu.add(i + 0.25, { 'container.id': `c${i}`, 'cpu.mode': mode, 'a.b-c': 'a"b\\c\nd é' });
    mem.add(i * 4096, { 'container.id': `c${i}` });
  }
  const { resourceMetrics } = await reader.collect();
  await provider.shutdown();
  return resourceMetrics;
}

for (const tasks of [0, 1, 300, 1500]) {
  test(`sdk-metrics data, ${tasks} tasks: written by hand, byte for byte the serializer's page`, async () => {
    const rm = await sdkMetrics(tasks, false);
    const writer = new PrometheusTextWriter();
    const page = await writer.write(rm, 0);
    assert.equal(writer.pages.byHand, 1);
    assert.equal(page, serializer.serialize(rm));
    // Twice: what the writer keeps between pages (the label names it made) changes nothing.
    assert.equal(await writer.write(rm, 0), page);
    assert.equal(writer.pages.byHand, 2);
  });
}

test('a page with a histogram goes to the serializer itself, and is its page', async () => {
  const rm = await sdkMetrics(20, true);
  const writer = new PrometheusTextWriter();
  assert.equal(await writer.write(rm, 0), serializer.serialize(rm));
  assert.deepEqual(writer.pages, { byHand: 0, bySerializer: 1 });
  assert.match(serializer.serialize(rm), /cgroup_metrics_collection_duration_bucket\{/);
});

test("the engine's producer on a real kernel's files: names with quotes, backslashes, newlines and non-ASCII, a final reading, a renamed task", async () => {
  const engine = new CgroupMetrics({ root: V2.loaded });
  // As the endpoint's, with Prometheus unit suffixes.
  const producer = prometheusNamingProducer(engine.producer({ acknowledge: 'auto' }));
  const odd = ['web "front"', 'C:\\path\\x', 'two\nlines', 'naïve-café-日本', ''];
  const handles = [];
  for (let i = 0; i < 40; i++) {
    handles[i] = engine.add({ id: `t${i}`, cgroup: V2_CGROUP, attributes: { 'container.name': odd[i % odd.length] as string, 'k8s.pod.name': `pod-${i}` } });
  }
  const writer = new PrometheusTextWriter();
  const scrape = async (): Promise<string> => {
    const { resourceMetrics } = await producer.collect();
    const page = await writer.write(resourceMetrics, 0);
    assert.equal(page, serializer.serialize(resourceMetrics));
    return page;
  };
  {
    const first = await scrape();
    assert.match(first, /^container_cpu_time_seconds_total\{.*container_name="web \\"front\\"".*cpu_mode="user".*\} 0\.840607$/m);
    assert.match(first, /container_name="two\\nlines"/);
    assert.match(first, /container_name="naïve-café-日本"/);
    assert.equal((await engine.stop('t0')).source, 'read');
    handles[1]?.annotate({ attributes: { 'container.name': 'renamed' } });
    const second = await scrape();
    // t0's final reading, and t1 under its new name only.
    assert.match(second, /container_id="t0"/);
    assert.match(second, /^container_memory_usage_bytes\{container_name="renamed",k8s_pod_name="pod-1",container_id="t1",/m);
    assert.doesNotMatch(second, /container_name="C:\\\\path\\\\x",k8s_pod_name="pod-1"/);
    const third = await scrape();
    assert.doesNotMatch(third, /container_id="t0"/);
    assert.equal(writer.pages.byHand, 3);
  }
});

test("the agent's pipeline: its endpoint's pages are written by hand, and are the serializer's", async () => {
  // As the agent assembles it: a reading thread, the agent's resource, the export pipeline.
  const engine = new CgroupMetrics({ root: V2.loaded, readThread: true });
  for (let i = 0; i < 30; i++) engine.add({ id: `t${i}`, cgroup: V2_CGROUP, attributes: { 'container.name': `c "${i}"` } });
  const pipeline = await startExportPipeline(engine, { ...TEST_SETTINGS, exporters: ['prometheus'] }, agentResource(), () => {});
  try {
    const endpoint = pipeline.prometheus;
    assert.ok(endpoint);
    for (let scrape = 1; scrape <= 3; scrape++) {
      const res = await fetch(endpoint.url);
      assert.equal(res.status, 200);
      const page = await res.text();
      assert.match(page, /^container_cpu_time_seconds_total\{container_name="c \\"7\\"",container_id="t7",.*cpu_mode="system".*\} 1\.130241$/m);
      assert.match(page, /^# TYPE cgroup_metrics_tasks gauge$/m);
      assert.deepEqual({ ...endpoint.pages }, { byHand: scrape, bySerializer: 0 });
    }
  } finally {
    await pipeline.shutdown();
    await engine.close();
  }
});

test('the event loop turns while a large page is written (sliceMs 0)', async () => {
  const rm = await sdkMetrics(1500, false);
  const { turns, result: page } = await loopTurnsDuring(() => new PrometheusTextWriter().write(rm, 0));
  // 1500 tasks: 3000 + 1500 + 1500 points, a look at the clock every 64 points.
  assert.ok(turns >= 90, `the loop turned ${turns} times during the write`);
  assert.equal(page, serializer.serialize(rm));
});

// ------------------------------------------------------------------ arbitrary pages

const text = fc.string({ unit: fc.constantFrom('a', 'Z', '0', '_', '.', '-', ' ', '"', '\\', '\n', 'é', '日', ':', '{'), maxLength: 8 });
const attrValue = fc.oneof(text, fc.double(), fc.integer(), fc.boolean(), fc.array(fc.oneof(text, fc.integer()), { maxLength: 3 }));
const attributes = fc.dictionary(text, attrValue, { maxKeys: 4 });
const value = fc.oneof(fc.double(), fc.integer(), fc.constantFrom(0, -0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e21, 1e-7));
const metric = fc.record({
  name: fc.oneof(text, fc.constantFrom('container.cpu.time', 'target_info', 'x_total', '9lives', '_', '')),
  description: text,
  unit: fc.oneof(fc.constant(''), text),
  kind: fc.constantFrom('counter', 'updown', 'gauge', 'histogram'),
  points: fc.array(fc.record({ attributes, value }), { maxLength: 5 }),
});
const scope = fc.record({
  name: text,
  version: fc.option(text, { nil: undefined }),
  schemaUrl: fc.option(text, { nil: undefined }),
  metrics: fc.array(metric, { maxLength: 4 }),
});

type ArbMetric = typeof metric extends fc.Arbitrary<infer T> ? T : never;

function metricData(m: ArbMetric): MetricData {
  const descriptor = { name: m.name, description: m.description, unit: m.unit, valueType: 1, type: 'COUNTER' } as unknown as MetricData['descriptor'];
  const time = { startTime: [1, 0], endTime: [2, 0] } as const;
  if (m.kind === 'histogram') {
    return {
      descriptor,
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints: m.points.map((p) => ({
        ...time,
        attributes: p.attributes as Attributes,
        value: { count: 1, sum: 1, min: 1, max: 1, buckets: { boundaries: [1], counts: [1, 0] } },
      })),
    } as unknown as MetricData;
  }
  const points = m.points.map((p) => ({ ...time, attributes: p.attributes as Attributes, value: p.value }));
  if (m.kind === 'gauge')
    return {
      descriptor,
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.GAUGE,
      dataPoints: points,
    } as unknown as MetricData;
  return {
    descriptor,
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.SUM,
    isMonotonic: m.kind === 'counter',
    dataPoints: points,
  } as unknown as MetricData;
}

test("arbitrary pages (fast-check): always the serializer's page; written by hand unless a histogram or a shared name is on it", async () => {
  const writer = new PrometheusTextWriter();
  let byHand = 0;
  await fc.assert(
    fc.asyncProperty(attributes, fc.array(scope, { maxLength: 3 }), async (resourceAttributes, scopes) => {
      const rm = {
        resource: resourceFromAttributes(resourceAttributes as Attributes),
        scopeMetrics: scopes.map((s) => ({ scope: { name: s.name, version: s.version, schemaUrl: s.schemaUrl }, metrics: s.metrics.map(metricData) })),
      } as ResourceMetrics;
      const before = writer.pages.byHand;
      const page = await writer.write(rm, 0);
      assert.equal(page, serializer.serialize(rm));
      const wrote = writer.pages.byHand > before;
      const all = scopes.flatMap((s) => s.metrics);
      if (all.some((m) => m.kind === 'histogram')) assert.equal(wrote, false);
      else if (wrote) byHand++;
    }),
    { numRuns: 400 },
  );
  // Most generated pages without a histogram have distinct names: the hand path is exercised.
  assert.ok(byHand >= 50, `${byHand} of 400 pages were written by hand`);
});
