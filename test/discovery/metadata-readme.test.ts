// The README's table of metadata sources is the registry's: a source added to one and not the other fails here.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { METADATA_SOURCES } from '../../src/discovery/metadata/registry.ts';

test('the README lists every metadata source with its default socket and layouts', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const table = /<!-- metadata-sources:start -->\n([\s\S]*?)\n<!-- metadata-sources:end -->/.exec(readme)?.[1] ?? '';
  const rows = table.split('\n').slice(2);
  assert.equal(rows.length, METADATA_SOURCES.length, 'one row per source');
  for (const [i, d] of METADATA_SOURCES.entries()) {
    const cells = (rows[i] ?? '').split('|').map((c) => c.trim());
    assert.equal(cells[1], `\`${d.name}\``);
    assert.ok(cells[2]?.startsWith(`\`${d.defaultEndpoint}\``), `${d.name}: ${cells[2]}`);
    assert.equal(cells[3], d.layouts.join(', '));
  }
});
