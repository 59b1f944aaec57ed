import { diag } from '@opentelemetry/api';
import { setGlobalErrorHandler } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import type { CgroupMetrics } from '../metrics/cgroup-metrics.ts';
import type { ExportConfig } from './config.ts';
import { RateLimitedLog } from '../rate-limited-log.ts';
import type { ExportOutcome } from './export-watch.ts';
import { EXPORTERS, type StartedExporter } from './exporters.ts';
import type { PrometheusEndpoint } from './prometheus.ts';

export interface ExportPipeline {
  meterProvider: MeterProvider;
  prometheus?: PrometheusEndpoint;
  /** Pushes what is pending (final readings included) through every push exporter. */
  forceFlush(): Promise<void>;
  /**
   * Flushes (the last push of every push exporter), then closes the endpoint and the
   * exporters; by `timeoutMs` at the latest. Says whether every push exporter's last push
   * arrived.
   */
  shutdown(options?: ShutdownOptions): Promise<ShutdownReport>;
}

export interface ShutdownOptions {
  /** The deadline of the whole shutdown, ms (default: none, as long as the exporters take). */
  timeoutMs?: number;
  /**
   * Date.now() from which on pushes count as the last ones (default: the call): set it before
   * the tasks' final readings are taken, so that a periodic push carrying them counts too.
   */
  since?: number;
}

/** What the last pushes came to. */
export interface ShutdownReport {
  /** Every push exporter had every push since `since` succeed (true when there is no push exporter). */
  delivered: boolean;
  /** The deadline came before the exporters were done. */
  timedOut: boolean;
  /** Each push exporter whose last push did not arrive: `otlp: HTTP 500 Internal Server Error`. */
  failures: string[];
}

/** How often each exporter's failures are logged at most: the first at once, then one line a minute with a count. */
const FAILURE_LOG_INTERVAL_MS = 60_000;

/** Resolves true when `p` settles by `ms` from now, false when the deadline comes first (`p` is left to run). */
async function settlesWithin(p: Promise<unknown>, ms: number | undefined): Promise<boolean> {
  if (ms === undefined) {
    await p;
    return true;
  }
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, ms));
  });
  try {
    return await Promise.race([p.then(() => true as const), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Where export failures are reported: one line each, never a crash. */
export type Logger = (line: string) => void;

/**
 * Starts the exporters the configuration names around one engine, in registry order (the
 * Prometheus endpoint first): each reader gets its own producer, so its own cursor into the
 * final-readings queue.
 */
export async function startExportPipeline(engine: CgroupMetrics, config: ExportConfig, resource: Resource, log: Logger): Promise<ExportPipeline> {
  const limited = new RateLimitedLog(log, FAILURE_LOG_INTERVAL_MS);
  // Failed pushes are heard from each exporter itself (below); anything else that reaches the
  // global error handler is logged too, rate-limited by its text.
  setGlobalErrorHandler((err) => {
    const text = err instanceof Error ? err.message : String(err);
    if (!text.startsWith('PeriodicExportingMetricReader: metrics export failed')) limited.say(`error:${text}`, `error: ${text}`);
  });
  // Every push's outcome: a failure is counted (cgroup_metrics.export.failures) and logged,
  // rate-limited per exporter; from shutdown on, outcomes are kept for the report.
  let finalSince: number | undefined;
  const finalOutcomes = new Map<string, ExportOutcome[]>();
  const onExport = (exporter: string, outcome: ExportOutcome): void => {
    if (!outcome.ok) {
      engine.countExportFailure(exporter);
      limited.say(`export:${exporter}`, `${exporter} export failed: ${outcome.reason}`);
    }
    if (finalSince !== undefined && outcome.startedAt >= finalSince) finalOutcomes.get(exporter)?.push(outcome);
  };
  const started: StartedExporter[] = [];
  const pushExporters: string[] = [];
  for (const exporter of EXPORTERS) {
    if (!config.exporters.includes(exporter.name)) continue;
    const s: StartedExporter = await exporter.start(engine, config, onExport);
    started.push(s);
    if (!s.endpoint) pushExporters.push(exporter.name);
  }
  // Each push exporter's failure count exists from the start, at 0.
  for (const name of pushExporters) engine.countExportFailure(name, 0);
  const prometheus = started.find((s) => s.endpoint)?.endpoint;
  const meterProvider = new MeterProvider({ resource, readers: started.map((s) => s.reader) });
  let shutdown: Promise<ShutdownReport> | undefined;
  const runShutdown = async (options: ShutdownOptions): Promise<ShutdownReport> => {
    finalSince = options.since ?? Date.now();
    for (const name of pushExporters) finalOutcomes.set(name, []);
    // PeriodicExportingMetricReader's shutdown runs one last collect-and-export, then waits
    // for the exporter's sends: with a hanging collector, as long as its timeout. The deadline
    // bounds it; what is still on its way then is not delivered.
    const flushed = settlesWithin(
      meterProvider.shutdown().catch((err: unknown) => {
        diag.error('otel-cgroup-metrics: shutdown', err);
        log(`shutdown: ${(err as Error).message}`);
      }),
      options.timeoutMs,
    );
    const inTime = await flushed;
    await Promise.all(started.map((s) => s.endpoint?.close()));
    limited.flush();
    const failures: string[] = [];
    for (const name of pushExporters) {
      const outcomes = finalOutcomes.get(name) ?? [];
      const failed = outcomes.find((o) => !o.ok);
      if (failed) failures.push(`${name}: ${failed.reason}`);
      else if (outcomes.length === 0) failures.push(`${name}: no answer to the last push by the shutdown deadline`);
    }
    return { delivered: failures.length === 0, timedOut: !inTime, failures };
  };
  return {
    meterProvider,
    ...(prometheus ? { prometheus } : {}),
    forceFlush: () => meterProvider.forceFlush(),
    shutdown(options: ShutdownOptions = {}) {
      shutdown ??= runShutdown(options);
      return shutdown;
    },
  };
}
