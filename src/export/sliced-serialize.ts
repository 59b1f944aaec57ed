import { performance } from 'node:perf_hooks';
import { nextLoopTurn as nextTurn } from '../loop-turn.ts';
import type { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import type { MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';

/** What PrometheusSerializer writes for a resource without metrics, after its target_info. */
const NO_METRICS = '# no registered metrics';
/** Points serialized at once: well under a millisecond, so a slice ends close to its budget. */
const PIECE_POINTS = 256;

/**
 * PrometheusSerializer.serialize, the same page, without holding the event loop: at 1000 tasks a
 * page is ~4 MB and one serialize() call ~40–100 ms (BENCHMARKS.md, the scrape path). The page is
 * made in pieces of at most PIECE_POINTS points of one metric, each through the serializer's own
 * serialize() (so its naming, escaping and labels stay its own), and the event loop gets a turn
 * whenever a slice has run `sliceMs`. A piece after a metric's first loses the metric's
 * `# HELP`/`# UNIT`/`# TYPE` lines (they appear once, as in the whole page); every piece loses
 * the resource's `target_info`, which the page has once at its head. A serializer that writes
 * its page otherwise (a version where the head is not what an empty resource gives) gets one
 * whole serialize() call.
 */
export async function serializeSliced(serializer: PrometheusSerializer, rm: ResourceMetrics, sliceMs = 5): Promise<string> {
  const empty = serializer.serialize({ resource: rm.resource, scopeMetrics: [] });
  if (!empty.endsWith(NO_METRICS)) return serializer.serialize(rm);
  const head = empty.slice(0, -NO_METRICS.length);
  const parts = [head];
  let sliceStart = performance.now();
  for (const sm of rm.scopeMetrics) {
    for (const metric of sm.metrics) {
      const points = metric.dataPoints.length;
      for (let i = 0; i === 0 || i < points; i += PIECE_POINTS) {
        const piece = points <= PIECE_POINTS ? metric : ({ ...metric, dataPoints: metric.dataPoints.slice(i, i + PIECE_POINTS) } as MetricData);
        const text = serializer.serialize({ resource: rm.resource, scopeMetrics: [{ scope: sm.scope, metrics: [piece] }] });
        if (!text.startsWith(head)) return serializer.serialize(rm);
        const body = text.slice(head.length);
        if (body === NO_METRICS) continue; // a metric the serializer leaves out (a name it cannot write)
        parts.push(i === 0 ? body : withoutHeader(body));
        if (performance.now() - sliceStart >= sliceMs) {
          await nextTurn();
          sliceStart = performance.now();
        }
      }
    }
  }
  if (parts.length === 1) parts.push(NO_METRICS);
  return parts.join('');
}

/** A metric's text without its leading comment lines (# HELP, # UNIT, # TYPE): point lines never start with '#'. */
function withoutHeader(text: string): string {
  let at = 0;
  while (text.startsWith('#', at)) {
    const nl = text.indexOf('\n', at);
    if (nl < 0) return '';
    at = nl + 1;
  }
  return text.slice(at);
}
