import { DEFAULT_GROUPS } from '../cgroup/types.ts';
import { withUnitSuffix } from '../export/prometheus-naming.ts';
import { CATALOG, SELF_METRICS } from './catalog.ts';

const KIND = { counter: 'counter', updowncounter: 'up-down counter', gauge: 'gauge' } as const;

/** The Prometheus name the endpoint shows (unit suffix, `_total` on monotonic counters). */
export function prometheusName(name: string, unit: string, kind: keyof typeof KIND): string {
  const base = withUnitSuffix(name, unit, kind === 'gauge').replace(/[^a-zA-Z0-9_:]/g, '_');
  return kind === 'counter' && !base.endsWith('_total') ? `${base}_total` : base;
}

/** The README's metric table, generated from the catalog (a test keeps the README in step). */
export function catalogMarkdown(): string {
  const rows = ['| name | kind | unit | Prometheus name | point attributes | cgroup v1 | cgroup v2 | group |', '|---|---|---|---|---|---|---|---|'];
  for (const d of CATALOG) {
    const group = (DEFAULT_GROUPS as readonly string[]).includes(d.group) ? d.group : `${d.group} (off by default)`;
    rows.push(
      `| \`${d.name}\` | ${KIND[d.kind]} | \`${d.unit}\` | \`${prometheusName(d.name, d.unit, d.kind)}\` | ${d.pointAttributes.map((a) => `\`${a}\``).join(', ') || '–'} | ${d.source.v1} | ${d.source.v2} | ${group} |`,
    );
  }
  rows.push('', '| self metric | kind | unit | Prometheus name | meaning |', '|---|---|---|---|---|');
  for (const d of Object.values(SELF_METRICS)) {
    rows.push(`| \`${d.name}\` | ${KIND[d.kind]} | \`${d.unit}\` | \`${prometheusName(d.name, d.unit, d.kind)}\` | ${d.description} |`);
  }
  return rows.join('\n');
}
