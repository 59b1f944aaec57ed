// The README's "How the code is laid out" section names every folder of the tree that holds
// code, and only folders that exist: a contributor reading it finds each one where it says.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';

const ROOT = new URL('..', import.meta.url).pathname;
/** Folders whose contents are data, not code: the section names them without their sub-folders. */
const DATA = new Set(['test/fixtures', 'bench/results']);

function codeFolders(rel: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(ROOT, rel), { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    const sub = `${rel}/${e.name}`;
    out.push(sub);
    if (!DATA.has(sub)) out.push(...codeFolders(sub));
  }
  return out;
}

function layoutSection(): string {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const m = /\n## How the code is laid out\n([\s\S]*?)(?=\n## |$)/.exec(readme);
  assert.ok(m, 'README.md has no "## How the code is laid out" section');
  return m[1] as string;
}

test('the README layout section names every source folder, and only existing ones', () => {
  const section = layoutSection();
  const named = new Set([...section.matchAll(/`((?:src|test|bench|scripts|deploy|examples)(?:\/[\w.-]+)*)\/?`/g)].map((m) => m[1] as string));
  const tree = ['src', 'test', 'bench', 'scripts', 'deploy', 'examples']
    .flatMap((top) => [top, ...codeFolders(top)])
    .filter((f) => !f.startsWith('test/fixtures/') && !f.startsWith('bench/results'));
  const missing = tree.filter((f) => !named.has(f));
  assert.deepEqual(missing, [], `folders the README layout section does not name: ${missing.join(', ')}`);
  const stale = [...named].filter((f) => !fs.existsSync(path.join(ROOT, f)));
  assert.deepEqual(stale, [], `the README layout section names folders that do not exist: ${stale.join(', ')}`);
});

test('the README layout section names every source file, and only existing ones', () => {
  const section = layoutSection();
  const tokens = new Set([...section.matchAll(/`([\w.-]+)`/g)].map((m) => (m[1] as string).replace(/\.ts$/, '')));
  const files = fs.readdirSync(path.join(ROOT, 'src'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  const unnamed = files.filter((f) => !tokens.has(path.basename(f, '.ts')));
  assert.deepEqual(unnamed, [], `source files the README layout section does not name: ${unnamed.join(', ')}`);
  const basenames = new Set([...files, ...fs.readdirSync(path.join(ROOT, 'scripts'))].map((f) => path.basename(f)));
  const stale = [...section.matchAll(/`([\w.-]+\.(?:ts|sh))`/g)].map((m) => m[1] as string).filter((f) => !basenames.has(f));
  assert.deepEqual(stale, [], `the README layout section names files that do not exist: ${stale.join(', ')}`);
});
