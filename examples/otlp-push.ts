/**
 * OTLP/HTTP (protobuf) push of this process's own cgroup metrics, ending with its final reading.
 *
 *   npm run build
 *   OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=http://localhost:4318/v1/metrics \
 *   OTEL_METRIC_EXPORT_INTERVAL=1000 DURATION_MS=5000 node --import tsx examples/otlp-push.ts
 *
 * Environment: the exporter's own OTEL_EXPORTER_OTLP_* variables (endpoint, headers,
 * compression, temporality preference); OTEL_METRIC_EXPORT_INTERVAL (ms, default 60000);
 * DURATION_MS (default 10000). Runs that long, or until SIGTERM/SIGINT.
 */
import { DiagConsoleLogger, DiagLogLevel, diag } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { setTimeout as sleep } from 'node:timers/promises';
import { CgroupMetrics } from 'otel-cgroup-metrics';

const intervalMs = Number(process.env.OTEL_METRIC_EXPORT_INTERVAL ?? 60_000);
const durationMs = Number(process.env.DURATION_MS ?? 10_000);

// A failed export (collector down, HTTP 4xx/5xx) is reported through diag, silent by default.
diag.setLogger(new DiagConsoleLogger(), DiagLogLevel.WARN);

const cgroups = new CgroupMetrics();

// With no options the exporter reads OTEL_EXPORTER_OTLP_METRICS_ENDPOINT (or
// OTEL_EXPORTER_OTLP_ENDPOINT + /v1/metrics) and the other OTEL_EXPORTER_OTLP_* variables itself.
const exporter = new OTLPMetricExporter();
const meterProvider = new MeterProvider({
  readers: [
    new PeriodicExportingMetricReader({
      exporter,
      // The SDK reader does not read OTEL_METRIC_EXPORT_INTERVAL itself.
      exportIntervalMillis: intervalMs,
      exportTimeoutMillis: Math.min(intervalMs, 30_000),
      // The producer builds its sums with the temporality the exporter asks for
      // (OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE; cumulative by default).
      metricProducers: [cgroups.producer({ temporality: exporter })],
    }),
  ],
});

cgroups.add({ id: 'self', cgroup: { pid: process.pid } });
console.log(`pushing every ${intervalMs} ms for ${durationMs} ms`);

// Run for DURATION_MS, or until the first SIGTERM/SIGINT (a second one exits at once).
const stopped = new AbortController();
const onSignal = (signal: NodeJS.Signals): void => {
  process.off('SIGTERM', onSignal).off('SIGINT', onSignal);
  console.log(`${signal}: stopping`);
  stopped.abort();
};
process.on('SIGTERM', onSignal).on('SIGINT', onSignal);
await sleep(durationMs, undefined, { signal: stopped.signal }).catch(() => {});

// stop() reads the cgroup one last time and queues that reading for every reader's next
// collection; shutting the provider down runs that collection and pushes it. Without the
// shutdown, the seconds since the last periodic export would never leave the process.
const final = await cgroups.stop('self');
console.log(`final reading: source=${final.source} timeMs=${final.timeMs ?? ''}`);
await meterProvider.shutdown();
console.log('done'); // a failed push was reported above by diag
