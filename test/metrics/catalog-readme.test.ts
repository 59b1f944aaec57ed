import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { catalogMarkdown, prometheusName } from '../../src/metrics/catalog-markdown.ts';
import { CATALOG, SELF_METRICS } from '../../src/metrics/catalog.ts';

test('the README metric table is the one generated from the code catalog', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const m = /<!-- catalog:start -->\n([\s\S]*?)\n<!-- catalog:end -->/.exec(readme);
  assert.ok(m, 'README.md has no catalog markers');
  assert.equal(m[1], catalogMarkdown(), 'README table is stale: regenerate with node --import tsx scripts/catalog-table.ts');
});

test('the catalog covers the design contract', () => {
  const names = CATALOG.map((d) => d.name);
  assert.equal(new Set(names).size, names.length, 'duplicate metric names');
  for (const n of [
    'container.cpu.time',
    'container.cpu.throttling_data.periods',
    'container.cpu.throttling_data.throttled_periods',
    'container.cpu.throttling_data.throttled_time',
    'container.cpu.limit',
    'container.cpu.usage.percpu',
    'container.memory.usage',
    'container.memory.working_set',
    'container.memory.rss',
    'container.memory.file',
    'container.memory.available',
    'container.memory.usage.limit',
    'container.memory.usage.max',
    'container.memory.swap.usage',
    'container.memory.fails',
    'container.memory.oom_kills',
    'container.paging.faults',
    'container.disk.io',
    'container.disk.operations',
    'container.pids.current',
    'container.pids.limit',
    'container.hugetlb.usage',
    'container.hugetlb.fails',
    'container.pressure.time',
    'container.uptime',
  ])
    assert.ok(names.includes(n), `missing ${n}`);
  // Cumulative kernel counters are counters, levels are up-down counters, ratios gauges.
  const kind = Object.fromEntries(CATALOG.map((d) => [d.name, d.kind]));
  assert.equal(kind['container.cpu.time'], 'counter');
  assert.equal(kind['container.memory.usage'], 'updowncounter');
  assert.equal(kind['container.cpu.limit'], 'gauge');
  assert.equal(CATALOG.find((d) => d.name === 'container.paging.faults')?.unit, '{fault}');
});

test('no Prometheus name ends in a suffix Prometheus reserves for histograms and summaries', () => {
  // promtool lint refuses _count/_sum/_bucket on counters and gauges; renaming on one path only
  // would break "the same PromQL whichever way the data travels".
  for (const d of [...CATALOG, ...Object.values(SELF_METRICS)]) {
    assert.doesNotMatch(prometheusName(d.name, d.unit, d.kind), /_(count|sum|bucket)$/, d.name);
  }
});
