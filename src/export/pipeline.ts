import { diag } from '@opentelemetry/api';
import { setGlobalErrorHandler } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import type { CgroupMetrics } from '../metrics/cgroup-metrics.ts';
import type { ExportConfig } from './config.ts';
import { EXPORTERS, type StartedExporter } from './exporters.ts';
import type { PrometheusEndpoint } from './prometheus.ts';

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
 * Starts the exporters the configuration names around one engine, in registry order (the
 * Prometheus endpoint first): each reader gets its own producer, so its own cursor into the
 * final-readings queue.
 */
export async function startExportPipeline(engine: CgroupMetrics, config: ExportConfig, resource: Resource, log: Logger): Promise<ExportPipeline> {
  // Export failures (collector down, 500, timeout) reach the global error handler: log them, keep running.
  setGlobalErrorHandler((err) => log(`export failed: ${err instanceof Error ? err.message : String(err)}`));
  const started: StartedExporter[] = [];
  for (const exporter of EXPORTERS) if (config.exporters.includes(exporter.name)) started.push(await exporter.start(engine, config));
  const prometheus = started.find((s) => s.endpoint)?.endpoint;
  const meterProvider = new MeterProvider({ resource, readers: started.map((s) => s.reader) });
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
      await Promise.all(started.map((s) => s.endpoint?.close()));
    },
  };
}
