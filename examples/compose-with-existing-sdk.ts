/**
 * Adding cgroup metrics to an application that already has its own OpenTelemetry SDK setup:
 * a MeterProvider, a reader and exporter of its own, its own instruments (`jobs.completed`).
 * Two ways, each shown on its own provider and printed after one collection:
 *
 *   (a) the producer, added to the reader's `metricProducers` (exact; recommended);
 *   (b) observable instruments, created on the application's meter by `cgroups.observe(meter)`.
 *
 *   npm run build && node --import tsx examples/compose-with-existing-sdk.ts
 *
 * The InMemoryMetricExporter stands in for whatever exporter the application uses (OTLP,
 * console, ...); it lets this example print what would have been exported, then exit.
 */
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader, type DataPoint } from '@opentelemetry/sdk-metrics';
import { CgroupMetrics } from 'otel-cgroup-metrics';

const cgroups = new CgroupMetrics();
cgroups.add({ id: 'self', cgroup: { pid: process.pid } });

// (a) The producer: one line in the reader's options. The cgroup metrics arrive beside the
// application's own, under their own instrumentation scope, and a stopped task's series
// vanish once its final reading is exported.
{
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({
    exporter,
    exportIntervalMillis: 60_000,
    metricProducers: [cgroups.producer({ temporality: exporter })], // <- the addition
  });
  const provider = new MeterProvider({ readers: [reader] });
  const meter = provider.getMeter('my-service');
  meter.createCounter('jobs.completed').add(3, { queue: 'default' });

  await provider.forceFlush(); // one collection and export, instead of waiting for the interval
  print('(a) producer in the reader', exporter);
  await provider.shutdown();
}

// (b) Observable instruments on the application's meter, fed by one batch callback. Every
// reader of the provider gets them, with no change to the readers; they carry that meter's
// scope (`my-service` here; `provider.getMeter('otel-cgroup-metrics')` keeps them apart).
// Known SDK limit (opentelemetry-js#4096): an asynchronous instrument never forgets an
// attribute set, so a stopped task's last values are exported again at every collection, and
// past the cardinality limit (2000) new tasks land in the otel.metric.overflow series. For
// job runners and anything else where tasks come and go, use the producer.
{
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
  const provider = new MeterProvider({ readers: [reader] });
  const meter = provider.getMeter('my-service');
  meter.createCounter('jobs.completed').add(3, { queue: 'default' });
  const observed = cgroups.observe(meter); // <- the addition

  await provider.forceFlush();
  print('(b) cgroups.observe(meter)', exporter);
  observed.unregister();
  await provider.shutdown();
}

/** One line per exported point: scope, metric, attributes, value. */
function print(title: string, exporter: InMemoryMetricExporter): void {
  console.log(`--- ${title}`);
  for (const { scopeMetrics } of exporter.getMetrics()) {
    for (const { scope, metrics } of scopeMetrics) {
      for (const metric of metrics) {
        for (const point of metric.dataPoints as Array<DataPoint<unknown>>) {
          const value = typeof point.value === 'number' ? point.value : JSON.stringify(point.value);
          console.log(`${scope.name}  ${metric.descriptor.name} ${JSON.stringify(point.attributes)} ${value}`);
        }
      }
    }
  }
}
