import type { MetricReader } from '@opentelemetry/sdk-metrics';
import type { CgroupMetrics } from '../metrics/cgroup-metrics.ts';
import { consoleExporter } from './console.ts';
import { otlpExporter } from './otlp.ts';
import { prometheusExporter, type PrometheusEndpoint } from './prometheus.ts';
import type { ExportOutcomeListener } from './export-watch.ts';
import type { ExporterSettings } from './settings.ts';

/** A started exporter: the reader to register with the MeterProvider, and the endpoint when it serves one. */
export interface StartedExporter {
  reader: MetricReader;
  endpoint?: PrometheusEndpoint;
}

/** One exporter that `--exporter` can name. */
export interface ExporterDefinition<N extends string = string> {
  readonly name: N;
  /**
   * Starts it around the engine; a failure to start (a port in use) rejects with a typed error.
   * A push exporter reports each export's outcome to `onExport`.
   */
  start(engine: CgroupMetrics, settings: ExporterSettings, onExport?: ExportOutcomeListener): Promise<StartedExporter>;
}

/**
 * Every exporter `--exporter` / OTEL_METRICS_EXPORTER can name, once. They start in this
 * order: the Prometheus endpoint first, so that a port in use fails before any push reader
 * runs. Adding an exporter: one file exporting its definition, one entry here.
 */
export const EXPORTERS = [prometheusExporter, otlpExporter, consoleExporter] as const satisfies readonly ExporterDefinition[];

export type ExporterName = (typeof EXPORTERS)[number]['name'];

export const EXPORTER_NAMES: readonly ExporterName[] = EXPORTERS.map((e) => e.name);

export function isExporterName(name: string): name is ExporterName {
  return (EXPORTER_NAMES as readonly string[]).includes(name);
}
