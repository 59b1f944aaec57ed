/**
 * A Prometheus endpoint serving this process's own cgroup metrics.
 *
 *   npm run build && node --import tsx examples/prometheus-pull.ts
 *   curl -s http://127.0.0.1:9464/metrics | grep container_cpu_time
 *
 * Environment: PORT (default 9464), UNIT_SUFFIXES=1 for Prometheus unit suffixes (see below).
 * Runs until SIGTERM or SIGINT (Ctrl-C); a second signal exits at once.
 */
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { CgroupMetrics, prometheusNamingProducer } from 'otel-cgroup-metrics';

const port = Number(process.env.PORT ?? 9464);

const cgroups = new CgroupMetrics();
// A task is anything with a cgroup: here, the cgroup this very process runs in.
cgroups.add({ id: 'self', cgroup: { pid: process.pid } });

// The JS Prometheus exporter appends `_total` to counters but no unit suffix, so the metric
// container.cpu.time (unit `s`) is served as container_cpu_time_total. Prometheus' own OTLP
// receiver, the Collector and VictoriaMetrics name it container_cpu_time_seconds_total;
// wrapping the producer in prometheusNamingProducer gives that name here too, so that the
// same PromQL works whichever way the data travels.
const producer = process.env.UNIT_SUFFIXES === '1' ? prometheusNamingProducer(cgroups.producer()) : cgroups.producer();

// One producer per reader: each reader has its own cursor into the final-readings queue.
const exporter = new PrometheusExporter({ host: '127.0.0.1', port, metricProducers: [producer] });
const meterProvider = new MeterProvider({ readers: [exporter] });
// The constructor starts the HTTP server; startServer() returns that same start, so awaiting
// it turns a port in use into an error here rather than a line in the diag log.
await exporter.startServer().catch((err: Error) => {
  console.error(`cannot serve on 127.0.0.1:${port}: ${err.message}`);
  process.exit(1);
});
console.log(`serving http://127.0.0.1:${port}/metrics`);

// The exporter unref()s its HTTP server so that it never holds a process open by itself;
// serving is all this process does, so hold it open until a signal arrives.
const keepAlive = setInterval(() => {}, 2 ** 31 - 1);

async function shutdown(signal: NodeJS.Signals): Promise<void> {
  // A second signal finds no handler left and terminates the process the default way.
  process.off('SIGTERM', shutdown).off('SIGINT', shutdown);
  console.log(`${signal}: shutting down`);
  clearInterval(keepAlive);
  await meterProvider.shutdown(); // closes the HTTP server; nothing else holds the process
}
process.on('SIGTERM', shutdown).on('SIGINT', shutdown);
