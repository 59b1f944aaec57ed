import { diag } from '@opentelemetry/api';
import { setGlobalErrorHandler } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import { ConsoleMetricExporter, MeterProvider, type MetricReader } from '@opentelemetry/sdk-metrics';
import type { CgroupMetrics } from '../metrics/cgroup-metrics.ts';
import type { ExportConfig } from './config.ts';
import { createOtlpExporter, createPushReader } from './otlp.ts';
import { startPrometheusEndpoint, type PrometheusEndpoint } from './prometheus.ts';

export interface ExportPipeline {
  meterProvider: MeterProvider;
  prometheus?: PrometheusEndpoint;
  /** Pushes what is pending (final readings included) through every push exporter. */
  forceFlush(): Promise<void>;
  /** Flushes, then closes the endpoint and the exporters. */
  shutdown(): Promise<void>;
}

/** Where export failures are reported: one line each, never a crash. */
export type Logger = (line: string) => void;

/**
 * Builds the readers the configuration names around one engine: each reader gets its own
 * producer (its own cursor into the final-readings queue). Starts the Prometheus endpoint
 * first, so that a port in use fails before anything else has started.
 */
export async function startExportPipeline(engine: CgroupMetrics, config: ExportConfig, resource: Resource, log: Logger): Promise<ExportPipeline> {
  // Export failures (collector down, 500, timeout) reach the global error handler: log them, keep running.
  setGlobalErrorHandler((err) => log(`export failed: ${err instanceof Error ? err.message : String(err)}`));
  const readers: MetricReader[] = [];
  let prometheus: PrometheusEndpoint | undefined;
  if (config.exporters.includes('prometheus')) {
    prometheus = await startPrometheusEndpoint(engine.producer({ finalHoldMs: config.prometheus.finalHoldMs }), config.prometheus);
    readers.push(prometheus.reader);
  }
  if (config.exporters.includes('otlp')) {
    readers.push(createPushReader(engine, createOtlpExporter(config.otlp), config.intervalMs, config.exportTimeoutMs));
  }
  if (config.exporters.includes('console')) {
    readers.push(createPushReader(engine, new ConsoleMetricExporter(), config.intervalMs, config.exportTimeoutMs));
  }
  const meterProvider = new MeterProvider({ resource, readers });
  let closed = false;
  return {
    meterProvider,
    ...(prometheus ? { prometheus } : {}),
    forceFlush: () => meterProvider.forceFlush(),
    async shutdown() {
      if (closed) return;
      closed = true;
      try {
        // PeriodicExportingMetricReader's shutdown runs one last collect-and-export.
        await meterProvider.shutdown();
      } catch (err) {
        diag.error('otel-cgroup-metrics: shutdown', err);
        log(`shutdown: ${(err as Error).message}`);
      }
      await prometheus?.close();
    },
  };
}
