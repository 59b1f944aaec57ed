import { DataPointType, type CollectionResult, type MetricCollectOptions, type MetricData, type MetricProducer } from '@opentelemetry/sdk-metrics';

/**
 * OpenTelemetry-to-Prometheus unit suffixes, as the Collector's Prometheus exporter and
 * Prometheus-compatible OTLP ingestion (VictoriaMetrics' -opentelemetry.usePrometheusNaming,
 * Prometheus' own OTLP receiver) write them: `container.cpu.time` in `s` becomes
 * `container_cpu_time_seconds_total`. The JS Prometheus exporter adds `_total` but no unit,
 * so the same PromQL would not work across paths without this.
 */
const UNIT_WORDS: Record<string, string> = {
  s: 'seconds',
  ms: 'milliseconds',
  us: 'microseconds',
  ns: 'nanoseconds',
  min: 'minutes',
  h: 'hours',
  d: 'days',
  By: 'bytes',
  KiBy: 'kibibytes',
  MiBy: 'mebibytes',
  GiBy: 'gibibytes',
  KBy: 'kilobytes',
  MBy: 'megabytes',
  GBy: 'gigabytes',
  '%': 'percent',
  Hz: 'hertz',
  Cel: 'celsius',
  V: 'volts',
  A: 'amperes',
  J: 'joules',
  W: 'watts',
  g: 'grams',
  m: 'meters',
};

/** The suffix for a UCUM unit: '' for annotations (`{fault}`) and unknown units; `ratio` for `1` on gauges. */
export function unitSuffix(unit: string, isGauge: boolean): string {
  const u = unit.replace(/\{[^}]*\}/g, '').trim();
  if (u === '') return '';
  if (u === '1') return isGauge ? 'ratio' : '';
  const slash = u.indexOf('/');
  if (slash > 0) {
    const a = UNIT_WORDS[u.slice(0, slash)] ?? '';
    const b = UNIT_WORDS[u.slice(slash + 1)] ?? '';
    return a && b ? `${a}_per_${b.replace(/s$/, '')}` : '';
  }
  return UNIT_WORDS[u] ?? '';
}

/** `container.cpu.time` + `s` → `container.cpu.time_seconds` (the exporter then adds `_total`). */
export function withUnitSuffix(name: string, unit: string, isGauge: boolean): string {
  const suffix = unitSuffix(unit, isGauge);
  if (!suffix) return name;
  const normalized = name.replace(/[^a-zA-Z0-9_:]/g, '_');
  return normalized.endsWith(`_${suffix}`) || normalized.includes(`_${suffix}_`) ? name : `${name}_${suffix}`;
}

function rename(m: MetricData): MetricData {
  const isGauge = m.dataPointType === DataPointType.GAUGE;
  const name = withUnitSuffix(m.descriptor.name, m.descriptor.unit, isGauge);
  return name === m.descriptor.name ? m : { ...m, descriptor: { ...m.descriptor, name } };
}

/** Wraps a producer so that its metric names carry Prometheus unit suffixes. */
export function prometheusNamingProducer(inner: MetricProducer): MetricProducer {
  return {
    async collect(options?: MetricCollectOptions): Promise<CollectionResult> {
      const r = await inner.collect(options);
      return {
        ...r,
        resourceMetrics: {
          ...r.resourceMetrics,
          scopeMetrics: r.resourceMetrics.scopeMetrics.map((sm) => ({ ...sm, metrics: sm.metrics.map(rename) })),
        },
      };
    },
  };
}
