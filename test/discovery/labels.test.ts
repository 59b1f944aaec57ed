import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { LabelAllowList } from '../../src/discovery/metadata/labels.ts';
import { ConfigError } from '../../src/errors.ts';

test('the label allow-list: names and globs; none by default; the rest never exported', () => {
  const labels = { team: 'checkout', secret: 'x', 'com.example.tier': 'front', 'com.example.a.b': 'y', 'io.kubernetes.pod.name': 'p' };
  assert.deepEqual(new LabelAllowList([]).attributes(labels), {});
  assert.deepEqual(new LabelAllowList(['team', 'com.example.*']).attributes(labels), {
    'container.label.team': 'checkout',
    'container.label.com.example.tier': 'front',
    'container.label.com.example.a.b': 'y',
  });
  assert.deepEqual(new LabelAllowList(['t?am']).attributes(labels), { 'container.label.team': 'checkout' });
  assert.deepEqual(new LabelAllowList(['*']).attributes({ a: '1' }), { 'container.label.a': '1' });
  assert.equal(new LabelAllowList(['a.b']).allows('aXb'), false, 'a dot is a dot, not any character');
  assert.throws(() => new LabelAllowList(['']), ConfigError);
  assert.throws(() => new LabelAllowList(['a b']), ConfigError);
});

test('a glob of literal characters allows exactly that key', () => {
  fc.assert(
    fc.property(fc.stringMatching(/^[a-z0-9.\-_/+()[\]{}^$|\\]{1,12}$/), fc.string({ maxLength: 12 }), (key, other) => {
      const l = new LabelAllowList([`${key}*`]);
      assert.equal(l.allows(key), true);
      assert.equal(l.allows(`${key}${other}`), true);
      assert.equal(new LabelAllowList([key]).allows(other), other === key);
    }),
  );
});
