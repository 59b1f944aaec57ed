// TaskHandle.annotate(): names learnt after add() reach every later point, a pending final
// reading's included, and never a later incarnation of the same id.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CgroupMetrics } from '../../src/index.ts';
import { V2 } from './helpers.ts';

test("annotate: attributes and start time on live points; add()'s attributes and the ids stay", async () => {
  const cg = new CgroupMetrics({ root: V2.loaded, groups: ['cpu', 'uptime'] });
  const c = cg.openConsumer();
  const h = cg.add({ id: 'x', cgroup: '/', attributes: { 'job.name': 'j' }, startTime: 5_000 });
  assert.deepEqual({ id: h.id, namespace: h.namespace }, { id: 'x', namespace: 'default' });
  h.annotate({ attributes: { 'container.name': 'web', 'container.id': 'forged', 'job.name': 'other' }, startTimeMs: 1_000 });
  const live = (await c.snapshot()).live[0];
  assert.deepEqual(live?.task.attributes, { 'job.name': 'other', 'container.name': 'web', 'container.id': 'x', 'container.namespace': 'default' });
  assert.equal(live?.task.startTimeMs, 1_000);
  // A second annotation replaces the first one's attributes; add()'s stay.
  h.annotate({ attributes: { 'container.image.name': 'busybox' } });
  const again = (await c.snapshot()).live[0];
  assert.deepEqual(again?.task.attributes, { 'job.name': 'j', 'container.image.name': 'busybox', 'container.id': 'x', 'container.namespace': 'default' });
  assert.equal(again?.task.startTimeMs, 1_000, 'the start time stays when not given');
  h.annotate({ startTimeMs: Number.NaN });
  assert.equal((await c.snapshot()).live[0]?.task.startTimeMs, 1_000, 'a non-finite start time is ignored');
});

test('annotate after stop(): the pending final reading carries the names; a re-added id is not touched', async () => {
  const cg = new CgroupMetrics({ root: V2.loaded, groups: ['cpu'] });
  const c = cg.openConsumer();
  const first = cg.add({ id: 'x', cgroup: '/' });
  await cg.stop('x');
  const second = cg.add({ id: 'x', cgroup: '/' });
  first.annotate({ attributes: { 'container.name': 'first' } });
  second.annotate({ attributes: { 'container.name': 'second' } });
  const s1 = await c.snapshot();
  assert.deepEqual(
    s1.finals.map((f) => f.task.attributes['container.name']),
    ['first'],
  );
  assert.deepEqual(s1.live, [], 'the new incarnation waits for the final reading of the old one');
  const s2 = await c.snapshot();
  assert.deepEqual(
    s2.live.map((l) => l.task.attributes['container.name']),
    ['second'],
  );
});

test('countMetadataError: cgroup_metrics.metadata.errors by source and error type in the self snapshot', async () => {
  const cg = new CgroupMetrics({ root: V2.loaded, groups: ['cpu'] });
  cg.countMetadataError('docker', 'timeout');
  cg.countMetadataError('docker', 'timeout');
  cg.countMetadataError('cri', 'unavailable');
  const self = (await cg.openConsumer().snapshot()).self;
  assert.deepEqual(
    [...self.metadataErrors],
    [
      ['docker\u0000timeout', 2],
      ['cri\u0000unavailable', 1],
    ],
  );
});
