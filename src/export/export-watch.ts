import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { PushMetricExporter, ResourceMetrics } from '@opentelemetry/sdk-metrics';

/** What one export came to: success, or the reason it failed (HTTP status, socket error, timeout). */
export interface ExportOutcome {
  ok: boolean;
  reason?: string;
  /** Date.now() when the export started. */
  startedAt: number;
}

/** Hears every push export's outcome, by exporter name. */
export type ExportOutcomeListener = (exporter: string, outcome: ExportOutcome) => void;

/** A failed export's reason on one line: `HTTP 500 Internal Server Error: body`, `connect ECONNREFUSED ...`. */
export function failureReason(error: unknown): string {
  if (!(error instanceof Error)) return error === undefined ? 'unknown error' : String(error);
  const e = error as Error & { code?: unknown; data?: unknown };
  // An HTTP status (100-599); a gRPC status code (0-16) is already in the message (`14 UNAVAILABLE: ...`).
  const status = typeof e.code === 'number' && e.code >= 100 ? `HTTP ${e.code} ` : '';
  const data = typeof e.data === 'string' && e.data.trim() !== '' ? `: ${e.data.trim().slice(0, 200)}` : '';
  return `${status}${e.message || e.name}${data}`.replace(/\s*\n\s*/g, ' ');
}

/**
 * A push exporter whose every export reports its outcome to `listener`: the exporter's own
 * result, or, when none has come within `timeoutMs` (the reader's export timeout, which gives
 * up on it silently), a timeout. The result still reaches the reader unchanged.
 */
export function watchExports(name: string, inner: PushMetricExporter, timeoutMs: number, listener: ExportOutcomeListener): PushMetricExporter {
  const watched: PushMetricExporter = {
    export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
      const startedAt = Date.now();
      let settled = false;
      const settle = (ok: boolean, reason?: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        listener(name, ok ? { ok, startedAt } : { ok, reason: reason ?? 'unknown error', startedAt });
      };
      const timer = setTimeout(() => settle(false, `no answer within ${timeoutMs} ms`), timeoutMs);
      timer.unref();
      try {
        inner.export(metrics, (result) => {
          settle(result.code === ExportResultCode.SUCCESS, failureReason(result.error));
          resultCallback(result);
        });
      } catch (err) {
        settle(false, failureReason(err));
        throw err;
      }
    },
    forceFlush: () => inner.forceFlush(),
    shutdown: () => inner.shutdown(),
  };
  if (inner.selectAggregationTemporality) watched.selectAggregationTemporality = inner.selectAggregationTemporality.bind(inner);
  if (inner.selectAggregation) watched.selectAggregation = inner.selectAggregation.bind(inner);
  return watched;
}
