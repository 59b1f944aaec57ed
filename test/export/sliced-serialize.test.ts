/**
 * serializeSliced: the same Prometheus page as one PrometheusSerializer.serialize() call, made in
 * pieces with turns of the event loop between slices (the endpoint falls back to it for pages PrometheusTextWriter does not write). Real
 * sdk-metrics data: counters, gauges, up-down counters and a histogram, large metrics split into
 * many pieces, units and escaped descriptions, resource attributes, a prefix.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { serializeSliced } from '../../src/export/sliced-serialize.ts';
import { loopTurnsDuring } from '../helpers/loop-turns.ts';

class Reader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

async function resourceMetrics(tasks: number) {
  const reader = new Reader();
  const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': 'ocm "test"', 'host.name': 'h\\1' }), readers: [reader] });
  const meter = provider.getMeter('otel-cgroup-metrics', '0.1.0');
  const cpu = meter.createCounter('container.cpu.time', { unit: 's', description: 'CPU time "by mode"\nsecond line' });
  const mem = meter.createUpDownCounter('container.memory.usage', { unit: 'By' });
  const hist = meter.createHistogram('cgroup_metrics.collection.duration', { unit: 's' });
  const gauge = meter.createObservableGauge('container.uptime', { unit: 's', description: 'uptime' });
  gauge.addCallback((r) => {
    for (let i = 0; i < tasks; i++) r.observe(i * 1.5, { 'container.id': `c${i}` });
  });
  meter.createCounter('1bad-name'); // a name the serializer rewrites
  for (let i = 0; i < tasks; i++) {
    for (const mode of ['user', 'system']) cpu.add(i + 0.25, { 'container.id': `c${i}`, 'cpu.mode': mode, label: 'a"b\\c\nd' });
    mem.add(i * 4096, { 'container.id': `c${i}` });
    if (i % 3 === 0) hist.record(i / 1000, { 'container.id': `c${i}` });
  }
  const { resourceMetrics: rm } = await reader.collect();
  await provider.shutdown();
  return rm;
}

for (const tasks of [0, 1, 255, 256, 257, 1500]) {
  test(`${tasks} tasks: the sliced page equals serialize()'s, byte for byte`, async () => {
    const rm = await resourceMetrics(tasks);
    for (const serializer of [new PrometheusSerializer('', false), new PrometheusSerializer('ocm', true)]) {
      const whole = serializer.serialize(rm);
      const sliced = await serializeSliced(serializer, rm, 0);
      assert.equal(sliced.length, whole.length);
      assert.equal(sliced, whole);
    }
  });
}

test('the event loop turns between slices (sliceMs 0: after every piece)', async () => {
  const rm = await resourceMetrics(1500);
  const { turns } = await loopTurnsDuring(() => serializeSliced(new PrometheusSerializer('', false), rm, 0));
  // 1500 tasks: cpu 3000 points (12 pieces), memory 1500 (6), uptime 1500 (6), histogram 500 (2), ...
  assert.ok(turns >= 20, `the loop turned ${turns} times during the serialization`);
});
