// MetadataLookups: the scheduling around the runtimes' APIs (backoff, deadlines, sandboxes, the
// allow-list, start times, rate-limited logs). The sources here are stand-ins written in the test,
// because what is tested is the scheduler; the real sources are tested against real dockerd,
// containerd and its CRI in metadata-docker.test.ts, metadata-containerd.test.ts and the
// names-*.test.ts end-to-end tests.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { LabelAllowList } from '../../src/discovery/metadata/labels.ts';
import { MetadataLookups, type MetadataLookupsOptions } from '../../src/discovery/metadata/lookups.ts';
import { type ContainerMetadata, type LookupTask, MetadataLookupError, type MetadataSource } from '../../src/discovery/metadata/source.ts';
import { oldestProcessStartMs } from '../../src/discovery/start-time.ts';
import type { TaskAnnotation, TaskHandle } from '../../src/index.ts';
import { waitFor } from '../metrics/helpers.ts';

type Answer = ContainerMetadata | undefined | MetadataLookupError | 'hang';

/** A stand-in source answering from a script, one answer per call (the last one repeats). */
function scripted(answers: Answer[]): MetadataSource & { calls: number; maxInFlight: number } {
  let inFlight = 0;
  const s = {
    name: 'fake',
    calls: 0,
    maxInFlight: 0,
    async lookup(_task: LookupTask, signal: AbortSignal): Promise<ContainerMetadata | undefined> {
      const a = answers[Math.min(s.calls, answers.length - 1)];
      s.calls++;
      inFlight++;
      s.maxInFlight = Math.max(s.maxInFlight, inFlight);
      try {
        await sleep(5);
        if (a === 'hang') {
          await new Promise((_, reject) => signal.addEventListener('abort', () => reject(new MetadataLookupError('fake', 'timeout', 'no answer'))));
        }
        if (a instanceof MetadataLookupError) throw a;
        return a as ContainerMetadata | undefined;
      } finally {
        inFlight--;
      }
    },
    close() {},
  };
  return s;
}

function handle(id = 'c1'): TaskHandle & { updates: TaskAnnotation[] } {
  const updates: TaskAnnotation[] = [];
  return { id, namespace: 'moby', updates, annotate: (u) => updates.push(u) };
}

const TASK: LookupTask = { layout: 'docker', namespace: 'moby', id: 'c1' };
const META: ContainerMetadata = {
  attributes: { 'container.name': 'web', 'container.runtime.name': 'docker' },
  labels: { team: 'checkout', secret: 'x', 'com.example.tier': 'front' },
  startTimeMs: 1_700_000_000_000,
  sandbox: false,
};

function lookups(source: MetadataSource, extra: Partial<MetadataLookupsOptions> = {}) {
  const errors: string[] = [];
  const sandboxes: string[] = [];
  const logs: string[] = [];
  const l = new MetadataLookups({
    sources: new Map([['docker', source]]),
    labels: new LabelAllowList(['team', 'com.example.*']),
    onError: (src, e) => errors.push(`${src}:${e.type}`),
    onSandbox: (t) => sandboxes.push(t.id),
    log: (line) => logs.push(line),
    ...extra,
  });
  return { l, errors, sandboxes, logs };
}

test('an answer annotates the task: semantic attributes, allow-listed labels only, the runtime start time', async () => {
  const src = scripted([META]);
  const { l, errors } = lookups(src);
  const h = handle();
  l.track(TASK, h);
  await waitFor(() => h.updates.length > 0, 2_000, 'annotation');
  assert.deepEqual(h.updates, [
    {
      attributes: {
        'container.name': 'web',
        'container.runtime.name': 'docker',
        'container.label.team': 'checkout',
        'container.label.com.example.tier': 'front',
      },
      startTimeMs: 1_700_000_000_000,
    },
  ]);
  assert.deepEqual(errors, []);
  assert.equal(l.pending, 0);
  l.close();
});

test('failures are counted, logged once a minute at most, and retried with backoff until an answer', async () => {
  const src = scripted([
    new MetadataLookupError('fake', 'unavailable', 'connect ENOENT'),
    new MetadataLookupError('fake', 'unavailable', 'connect ENOENT'),
    META,
  ]);
  const { l, errors, logs } = lookups(src, { maxBackoffMs: 400 });
  const h = handle();
  const t0 = performance.now();
  l.track(TASK, h);
  await waitFor(() => h.updates.length > 0, 5_000, 'annotation after two failures');
  const ms = performance.now() - t0;
  assert.deepEqual(errors, ['fake:unavailable', 'fake:unavailable']);
  assert.equal(src.calls, 3);
  // Backoff: ~125-250 ms after the first failure, ~200-400 after the second (jittered halves).
  assert.ok(ms >= 300, `answered after ${ms.toFixed(0)} ms: the retries were spaced`);
  assert.equal(logs.length, 1, `one line for two failures: ${logs.join(' | ')}`);
  assert.match(logs[0] as string, /^metadata: fake: connect ENOENT \[unavailable\]; series carry ids until it answers$/);
  l.close();
});

test('a lookup that hangs ends at its deadline as a timeout, and the next try is made', async () => {
  const src = scripted(['hang', META]);
  const { l, errors } = lookups(src, { timeoutMs: 60, maxBackoffMs: 100 });
  const h = handle();
  l.track(TASK, h);
  await waitFor(() => h.updates.length > 0, 3_000, 'annotation after a timeout');
  assert.deepEqual(errors, ['fake:timeout']);
  l.close();
});

test('a sandbox is handed to onSandbox and not annotated, unless sandboxes are kept', async () => {
  const sandbox = { ...META, sandbox: true };
  const a = lookups(scripted([sandbox]));
  const h = handle();
  a.l.track(TASK, h);
  await waitFor(() => a.sandboxes.length > 0, 2_000, 'onSandbox');
  assert.deepEqual(a.sandboxes, ['c1']);
  assert.deepEqual(h.updates, []);
  a.l.close();
  const b = lookups(scripted([sandbox]), { keepSandboxes: true });
  const h2 = handle();
  b.l.track(TASK, h2);
  await waitFor(() => h2.updates.length > 0, 2_000, 'annotation');
  assert.deepEqual(b.sandboxes, []);
  b.l.close();
});

test('untrack: a lookup in flight still names the task (its final reading); no retry after it', async () => {
  const src = scripted([new MetadataLookupError('fake', 'unavailable', 'down'), META]);
  const { l } = lookups(src, { maxBackoffMs: 50 });
  const h = handle();
  l.track(TASK, h);
  l.untrack(TASK);
  await sleep(300);
  assert.equal(src.calls, 1, 'the queued try ran, and no retry followed');
  assert.deepEqual(h.updates, []);
  const src2 = scripted([META]);
  const second = lookups(src2);
  const h2 = handle();
  second.l.track(TASK, h2);
  second.l.untrack(TASK);
  await waitFor(() => h2.updates.length > 0, 2_000, 'the in-flight answer applied after untrack');
  l.close();
  second.l.close();
});

test('not found is tried a few times (a record can trail its cgroup), then given up', async () => {
  const src = scripted([undefined]);
  const { l, errors } = lookups(src, { maxBackoffMs: 20 });
  l.track(TASK, handle());
  await waitFor(() => l.pending === 0, 3_000, 'given up');
  assert.equal(src.calls, 3);
  assert.deepEqual(errors, [], 'not found is no error');
  l.close();
});

test('lookups in flight never exceed the concurrency bound', async () => {
  const src = scripted([META]);
  const { l } = lookups(src, { concurrency: 3 });
  const handles = Array.from({ length: 20 }, (_, i) => handle(`c${i}`));
  for (const [i, h] of handles.entries()) l.track({ ...TASK, id: `c${i}` }, h);
  await waitFor(() => handles.every((h) => h.updates.length === 1), 5_000, 'all named');
  assert.equal(src.calls, 20);
  assert.equal(src.maxInFlight, 3);
  l.close();
});

test("no source for the layout: the start time of the cgroup's oldest process, from a real cgroup", async (t) => {
  const dir = `/sys/fs/cgroup/unified/ocm-start-${process.pid}`;
  fs.mkdirSync(dir);
  const child = spawn('sleep', ['30']);
  t.after(() => {
    child.kill('SIGKILL');
    for (let i = 0; i < 50; i++) {
      try {
        fs.rmdirSync(dir);
        return;
      } catch {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
      }
    }
  });
  const spawned = Date.now();
  fs.writeFileSync(`${dir}/cgroup.procs`, String(child.pid));
  const { l } = lookups(scripted([META]));
  const h = handle();
  l.track({ ...TASK, layout: 'custom' }, h, `${dir}/cgroup.procs`);
  assert.equal(h.updates.length, 1, 'applied at once: the process exists');
  const start = h.updates[0]?.startTimeMs as number;
  assert.equal(start, oldestProcessStartMs(`${dir}/cgroup.procs`));
  // btime is whole seconds and /proc/<pid>/stat counts in 10 ms ticks.
  assert.ok(Math.abs(start - spawned) < 1_100, `process start ${start} vs spawn ${spawned}`);
  l.close();
});
