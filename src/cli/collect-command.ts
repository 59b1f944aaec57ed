import { parseArgs } from 'node:util';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { JsonMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { prometheusNamingProducer } from '../export/prometheus-naming.ts';
import { agentResource } from '../export/resource.ts';
import { CgroupMetrics } from '../metrics/cgroup-metrics.ts';
import { addTasks, engineOptions, parseTasks } from './engine-setup.ts';
import { endIfStuck } from './stuck-exit.ts';
import { COLLECT_OPTIONS } from './flags.ts';
import { COLLECT_HELP } from './help.ts';
import { UsageError } from './usage-error.ts';

/** A reader that collects on demand (no timer, no exporter). */
class OnDemandReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** `otel-cgroup-metrics collect`: returns the exit code. */
export async function collectCommand(argv: string[], out: (s: string) => void): Promise<number> {
  const { values } = parseArgs({ args: argv, options: COLLECT_OPTIONS });
  if (values.help) {
    out(COLLECT_HELP);
    return 0;
  }
  const format = values.format ?? 'prometheus';
  if (format !== 'prometheus' && format !== 'json') throw new UsageError(`--format must be prometheus or json, got ${JSON.stringify(format)}`);
  const options = engineOptions(values);
  const tasks = parseTasks(values.task ?? [], values['task-attribute'] ?? []);
  const engine = new CgroupMetrics(options);
  addTasks(engine, tasks);
  const producer = engine.producer();
  const reader = new OnDemandReader({
    metricProducers: [format === 'prometheus' && !values['no-unit-suffixes'] ? prometheusNamingProducer(producer) : producer],
  });
  const provider = new MeterProvider({ resource: agentResource(), readers: [reader] });
  const { resourceMetrics } = await reader.collect();
  if (format === 'prometheus') out(new PrometheusSerializer().serialize(resourceMetrics));
  else out(`${new TextDecoder().decode(JsonMetricsSerializer.serializeRequest(resourceMetrics) as Uint8Array)}\n`);
  await provider.shutdown();
  await engine.close();
  endIfStuck(engine, (line) => process.stderr.write(`otel-cgroup-metrics: ${line}\n`));
  return 0;
}
