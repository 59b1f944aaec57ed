/**
 * parseImageRef: the references runtimes really report, then fast-check properties: any string
 * parses without throwing and its parts put back together give the string; a reference built
 * from a registry (with or without port), path, tag and digest parses back into exactly those.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { type ImageRef, parseImageRef } from '../../src/discovery/metadata/image-ref.ts';

const RUNS = 500;
const HEX64 = 'a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4';

function format(r: ImageRef): string {
  return `${r.name}${r.tag !== undefined ? `:${r.tag}` : ''}${r.digest !== undefined ? `@${r.digest}` : ''}`;
}

describe('parseImageRef: real references', () => {
  const cases: Array<[string, ImageRef]> = [
    ['docker.io/library/busybox:1.36', { name: 'docker.io/library/busybox', tag: '1.36' }],
    ['busybox', { name: 'busybox' }],
    ['local/busybox', { name: 'local/busybox' }],
    ['local/busybox:1.36', { name: 'local/busybox', tag: '1.36' }],
    ['localhost:5000/a/b:tag', { name: 'localhost:5000/a/b', tag: 'tag' }],
    ['localhost:5000/a/b', { name: 'localhost:5000/a/b' }],
    [`busybox@sha256:${HEX64}`, { name: 'busybox', digest: `sha256:${HEX64}` }],
    [`busybox:1.36@sha256:${HEX64}`, { name: 'busybox', tag: '1.36', digest: `sha256:${HEX64}` }],
    [`registry.k8s.io:443/pause:3.9@sha256:${HEX64}`, { name: 'registry.k8s.io:443/pause', tag: '3.9', digest: `sha256:${HEX64}` }],
    [`sha256:${HEX64}`, { name: `sha256:${HEX64}` }],
    ['quay.io/prometheus/node-exporter:v1.8.2', { name: 'quay.io/prometheus/node-exporter', tag: 'v1.8.2' }],
  ];
  for (const [ref, want] of cases) test(ref, () => assert.deepEqual(parseImageRef(ref), want));

  test('an empty tag or digest is absent, not empty', () => {
    assert.deepEqual(parseImageRef('busybox:'), { name: 'busybox' });
    assert.deepEqual(parseImageRef('busybox@'), { name: 'busybox' });
    assert.deepEqual(parseImageRef(''), { name: '' });
  });
});

const lower = fc.stringMatching(/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/);
const host = fc.oneof(
  fc.constant('localhost'),
  fc.tuple(lower, fc.constantFrom('io', 'com', 'example')).map(([a, b]) => `${a}.${b}`),
);
const registry = fc.option(
  fc.tuple(host, fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined })).map(([h, p]) => (p === undefined ? h : `${h}:${p}`)),
  { nil: undefined },
);
const repoPath = fc.array(lower, { minLength: 1, maxLength: 4 }).map((parts) => parts.join('/'));
const tag = fc.option(fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}$/), { nil: undefined });
const digest = fc.option(
  fc.stringMatching(/^[0-9a-f]{64}$/).map((h) => `sha256:${h}`),
  { nil: undefined },
);

describe('parseImageRef: properties', () => {
  test('any string parses without throwing, into parts that give it back', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (s) => {
        const r = parseImageRef(s);
        assert.notEqual(r.tag, '');
        assert.notEqual(r.digest, '');
        // An empty tag (`name:` or `name:@…`) or digest (`name@`) is dropped; everything else comes back.
        if (!/:$|@$|:@/.test(s)) assert.equal(format(r), s);
      }),
      { numRuns: RUNS },
    );
  });

  test('registry[:port]/path[:tag][@digest] parses back into exactly its parts', () => {
    fc.assert(
      fc.property(registry, repoPath, tag, digest, (reg, p, t, d) => {
        const name = reg === undefined ? p : `${reg}/${p}`;
        const want: ImageRef = { name, ...(t !== undefined ? { tag: t } : {}), ...(d !== undefined ? { digest: d } : {}) };
        assert.deepEqual(parseImageRef(format(want)), want);
      }),
      { numRuns: RUNS },
    );
  });
});
