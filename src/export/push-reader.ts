import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import {
  PeriodicExportingMetricReader,
  type CollectionResult,
  type MetricCollectOptions,
  type PeriodicExportingMetricReaderOptions,
  type PushMetricExporter,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import type { CgroupMetrics } from '../metrics/cgroup-metrics.ts';
import { collectDeliveries, type Deliveries } from '../metrics/deliveries.ts';

/**
 * A PeriodicExportingMetricReader whose collections remember the final readings they carried,
 * keyed by the ResourceMetrics it hands to the exporter: the export of that very object
 * acknowledges them, whichever collection ran before or after it (a forceFlush, a late answer
 * of an export that timed out).
 */
class AcknowledgingReader extends PeriodicExportingMetricReader {
  constructor(
    options: PeriodicExportingMetricReaderOptions,
    private readonly carried: WeakMap<ResourceMetrics, Deliveries>,
  ) {
    super(options);
  }

  override async collect(options?: MetricCollectOptions): Promise<CollectionResult> {
    const { result, deliveries } = await collectDeliveries(() => super.collect(options));
    this.carried.set(result.resourceMetrics, deliveries);
    return result;
  }
}

/**
 * The exporter as the reader sees it: an export whose result is success acknowledges the final
 * readings it carried; any other result (collector down, 500, 429, a timeout) leaves them
 * pending, so they go out again with the next export. A batch the reader made by splitting a
 * collection (maxExportBatchSize) is not the collected object and acknowledges nothing.
 */
function acknowledgingExporter(inner: PushMetricExporter, carried: WeakMap<ResourceMetrics, Deliveries>): PushMetricExporter {
  const outer: PushMetricExporter = {
    export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
      const deliveries = carried.get(metrics);
      inner.export(metrics, (result) => {
        if (result.code === ExportResultCode.SUCCESS) deliveries?.acknowledge();
        resultCallback(result);
      });
    },
    forceFlush: () => inner.forceFlush(),
    shutdown: () => inner.shutdown(),
  };
  if (inner.selectAggregationTemporality) outer.selectAggregationTemporality = inner.selectAggregationTemporality.bind(inner);
  if (inner.selectAggregation) outer.selectAggregation = inner.selectAggregation.bind(inner);
  return outer;
}

/**
 * A push reader: collects through a producer of its own (temporality as the exporter
 * prefers) every interval. A collector that is down, answers 500 or 429, or does not answer
 * in time fails that export only: live values are not buffered (the next export carries the
 * current ones), while the final readings it carried stay pending for this reader and go out
 * again with the next export, until one succeeds.
 */
export function createPushReader(engine: CgroupMetrics, exporter: PushMetricExporter, intervalMs: number, timeoutMs: number): PeriodicExportingMetricReader {
  const select = exporter.selectAggregationTemporality?.bind(exporter);
  const carried = new WeakMap<ResourceMetrics, Deliveries>();
  return new AcknowledgingReader(
    {
      exporter: acknowledgingExporter(exporter, carried),
      exportIntervalMillis: intervalMs,
      exportTimeoutMillis: timeoutMs,
      metricProducers: [engine.producer({ acknowledge: 'manual', ...(select ? { temporality: (t) => select(t) } : {}) })],
    },
    carried,
  );
}
