import { parseArgs } from 'node:util';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { JsonMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { prometheusNamingProducer } from '../export/prometheus-naming.ts';
import { agentResource } from '../export/resource.ts';
import { CgroupMetrics } from '../metrics/cgroup-metrics.ts';
import { ENGINE_HELP, ENGINE_OPTIONS, addTasks, engineOptions, type EngineFlags } from './engine-flags.ts';
import { UsageError } from './usage-error.ts';

export const COLLECT_HELP = `Usage: otel-cgroup-metrics collect [--task NAMESPACE/ID=CGROUP ...] [--root DIR] [--format prometheus|json] [--no-unit-suffixes]

Prints one collection and exits: the page Prometheus would scrape (default), or the OTLP/JSON
request body an OTLP/HTTP exporter would send.

${ENGINE_HELP}`;

/** A reader that collects on demand (no timer, no exporter). */
class OnDemandReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

export async function collectCommand(argv: string[], out: (s: string) => void): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { ...ENGINE_OPTIONS, format: { type: 'string' }, 'no-unit-suffixes': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    out(COLLECT_HELP);
    return 0;
  }
  const format = values.format ?? 'prometheus';
  if (format !== 'prometheus' && format !== 'json') throw new UsageError(`--format must be prometheus or json, got ${JSON.stringify(format)}`);
  const engine = new CgroupMetrics(engineOptions(values as EngineFlags));
  addTasks(engine, values.task ?? []);
  const producer = engine.producer();
  const reader = new OnDemandReader({ metricProducers: [format === 'prometheus' && !values['no-unit-suffixes'] ? prometheusNamingProducer(producer) : producer] });
  const provider = new MeterProvider({ resource: agentResource(), readers: [reader] });
  const { resourceMetrics } = await reader.collect();
  if (format === 'prometheus') out(new PrometheusSerializer().serialize(resourceMetrics));
  else out(new TextDecoder().decode(JsonMetricsSerializer.serializeRequest(resourceMetrics) as Uint8Array) + '\n');
  await provider.shutdown();
  return 0;
}
