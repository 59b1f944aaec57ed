import type { Attributes, AttributeValue } from '@opentelemetry/api';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { DataPointType, type MetricData, type ResourceMetrics, type ScopeMetrics } from '@opentelemetry/sdk-metrics';
import { performance } from 'node:perf_hooks';
import { nextLoopTurn } from '../loop-turn.ts';
import { serializeSliced } from './sliced-serialize.ts';

/** What PrometheusSerializer writes for a resource without metrics, after its target_info. */
const NO_METRICS = '# no registered metrics';
/** Points written between two looks at the clock. */
const CLOCK_EVERY = 64;

/**
 * The Prometheus text page of a collection, written by hand: byte for byte the page of the
 * exporter's own `new PrometheusSerializer('', false)` on both OpenTelemetry JS lines (2.x
 * serializes metric by metric, 3.x groups metric families first: for the pages written here the
 * two are the same), at 0.2–0.4 × its cost (bench/scrape-phases.ts: 0.295 × at 50 tasks,
 * 0.199 × at 1000). The serializer runs three regular expressions over every label value and
 * rebuilds every series' label string at every scrape, ~3 ms of a 10 ms scrape at 50
 * containers. Here a label name is made once and a value is escaped only when it has something
 * to escape. Label strings are not kept between scrapes: kept in a WeakMap by attribute object,
 * they saved no measurable time (the engine merges a task's attributes with a point's own into a
 * new object at each collection), and the map's growth made single slices long.
 *
 * Pages it writes: sums and gauges whose Prometheus names are all distinct (and none is
 * `target_info`). Any other page goes to the serializer itself, so the page is always the
 * exporter's: one with a histogram in slices (serializeSliced), one where two metrics share a
 * name (which 3.x merges into one family, 2.x does not) in one call. The event loop gets a turn
 * whenever a slice has run `sliceMs`, except in that one call.
 */
export class PrometheusTextWriter {
  readonly #serializer = new PrometheusSerializer('', false);
  /** Attribute key → label name. */
  readonly #labelNames = new Map<string, string>();
  /** Pages written here, and pages handed to the serializer. */
  readonly pages = { byHand: 0, bySerializer: 0 };

  async write(rm: ResourceMetrics, sliceMs = 5): Promise<string> {
    const names = this.#names(rm);
    const empty = this.#serializer.serialize({ resource: rm.resource, scopeMetrics: [] });
    if (!Array.isArray(names) || !empty.endsWith(NO_METRICS)) {
      this.pages.bySerializer++;
      // Two metrics of one name are one family on 3.x, whose page only a whole call writes.
      return names === 'shared name' ? this.#serializer.serialize(rm) : serializeSliced(this.#serializer, rm, sliceMs);
    }
    this.pages.byHand++;
    // Lines go to an array that becomes one flat piece every CLOCK_EVERY points, and the pieces
    // one page at the end. Appending to one string would make a rope as deep as the page has
    // lines, and flattening it (for gzip or the socket) took ~4 × the writing itself, in one go.
    const pieces: string[] = [empty.slice(0, -NO_METRICS.length)];
    const lines: string[] = [];
    let wrote = false;
    let sliceStart = performance.now();
    let sinceClock = 0;
    let k = 0;
    for (const sm of rm.scopeMetrics) {
      const scopeLabels = this.#scopeLabels(sm.scope);
      for (const metric of sm.metrics) {
        const name = names[k++];
        if (name === undefined) continue;
        wrote = true;
        lines.push(header(name, metric));
        const open = `${name}{`;
        const close = `${scopeLabels}} `;
        const withLabels = `,${close}`;
        for (const point of metric.dataPoints) {
          const labels = this.#labelsOf(point.attributes);
          const value = point.value as number;
          lines.push(`${labels === '' ? open + close : open + labels + withLabels}${value === Infinity ? '+Inf' : value === -Infinity ? '-Inf' : value}\n`);
          if (++sinceClock === CLOCK_EVERY) {
            sinceClock = 0;
            pieces.push(lines.join(''));
            lines.length = 0;
            if (performance.now() - sliceStart >= sliceMs) {
              await nextLoopTurn();
              sliceStart = performance.now();
            }
          }
        }
      }
    }
    pieces.push(wrote ? lines.join('') : NO_METRICS);
    return pieces.join('');
  }

  /**
   * The Prometheus name of every metric, in page order (undefined: a metric the serializer
   * leaves out, a name that normalizes to nothing), or why this page is left to the serializer.
   */
  #names(rm: ResourceMetrics): (string | undefined)[] | 'not a sum or gauge' | 'shared name' {
    const names: (string | undefined)[] = [];
    const seen = new Set<string>(['target_info']);
    let other = false;
    for (const sm of rm.scopeMetrics) {
      for (const metric of sm.metrics) {
        const name = prometheusName(metric);
        if (name !== undefined) {
          if (seen.has(name)) return 'shared name';
          seen.add(name);
        }
        if (metric.dataPointType !== DataPointType.SUM && metric.dataPointType !== DataPointType.GAUGE) other = true;
        names.push(name);
      }
    }
    return other ? 'not a sum or gauge' : names;
  }

  /** The scope's labels as the serializer adds them to every point: name, schema URL, version. */
  #scopeLabels(scope: ScopeMetrics['scope']): string {
    let s = `otel_scope_name="${labelValue(scope.name)}"`;
    if (scope.schemaUrl) s += `,otel_scope_schema_url="${labelValue(scope.schemaUrl)}"`;
    if (scope.version) s += `,otel_scope_version="${labelValue(scope.version)}"`;
    return s;
  }

  /** The labels of an attribute set, without braces (`a="1",b="2"`). */
  #labelsOf(attributes: Attributes): string {
    let s = '';
    for (const key of Object.keys(attributes)) {
      let label = this.#labelNames.get(key);
      if (label === undefined) {
        label = sanitize(key);
        this.#labelNames.set(key, label);
      }
      s += `${s === '' ? '' : ','}${label}="${labelValue(attributes[key])}"`;
    }
    return s;
  }
}

/** Characters a Prometheus name cannot have, and runs of underscores (the serializer's rules). */
const INVALID = /[^a-z0-9_]/gi;
const UNDERSCORES = /_{2,}/g;
/** Characters a label value escapes: backslash, newline, double quote. */
const TO_ESCAPE = /[\\\n"]/;

function sanitize(name: string): string {
  return name.replace(INVALID, '_').replace(UNDERSCORES, '_');
}

function escapeText(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** A label value as the serializer writes it: non-strings as JSON, then escaped. */
function labelValue(value: AttributeValue | undefined = ''): string {
  const s = typeof value === 'string' ? value : (JSON.stringify(value) as string);
  return TO_ESCAPE.test(s) ? escapeText(s).replace(/"/g, '\\"') : s;
}

/** The metric's Prometheus name as the serializer makes it, or undefined where it leaves the metric out. */
function prometheusName(metric: MetricData): string | undefined {
  let name = sanitize(escapeText(metric.descriptor.name));
  if (name === '' || name === '_') return undefined;
  if (name[0] !== undefined && name[0] >= '0' && name[0] <= '9') name = `_${name}`;
  if (!name.endsWith('_total') && metric.dataPointType === DataPointType.SUM && metric.isMonotonic) name += '_total';
  return name;
}

/** # HELP, # UNIT (when the metric has one) and # TYPE. */
function header(name: string, metric: MetricData): string {
  const { description, unit } = metric.descriptor;
  const type = metric.dataPointType === DataPointType.SUM && metric.isMonotonic ? 'counter' : 'gauge';
  return `# HELP ${name} ${escapeText(description || 'description missing')}\n${unit ? `# UNIT ${name} ${escapeText(unit)}\n` : ''}# TYPE ${name} ${type}\n`;
}
