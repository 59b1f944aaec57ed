/**
 * A deadline that holds against a read that really blocks: a cgroup2 tree served by a FUSE file
 * system (test/helpers/slowfs.c) whose reads of task a's memory.stat answer only after seconds,
 * the way a hung network file system or a stalled kernfs read does. Task b reads normally. The
 * engine reads on its thread (readThread, what the commands use); the collection, the `collect`
 * command, the agent's scrape, its OTLP push and SIGTERM must all answer while a's read hangs.
 * Root and /dev/fuse needed: fails, never skips, without them.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { after, test } from 'node:test';
import type { CgroupStats } from '../../src/cgroup/types.ts';
import { CgroupMetrics } from '../../src/index.ts';
import { AgentProcess, CLI, OtlpReceiver, httpGet, pointsWith, promAndOtlpFlags } from '../helpers/otlp-receiver.ts';
import { freePort } from '../helpers/peers.ts';
import { mountSlowFs, type SlowFs } from '../helpers/slowfs.ts';
import { LOADED, TempV2Tree } from './helpers.ts';

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** The flags that give a command the FUSE tree's two tasks. */
const TASKS = (dir: string): string[] => [
  '--root',
  dir,
  '--task',
  'default/a=/a',
  '--task',
  'default/b=/b',
  '--groups',
  'cpu,memory',
  '--collect-timeout',
  '1000',
];

/** A FUSE tree with tasks a (its memory.stat hangs `hangS` s at each read) and b. */
async function hungTree(hangS: number): Promise<SlowFs> {
  const tree = new TempV2Tree();
  tree.addCgroup('a');
  tree.addCgroup('b');
  cleanups.push(() => tree.cleanup());
  const fsys = await mountSlowFs(tree.root, '/a/memory.stat', hangS);
  cleanups.push(() => fsys.close());
  return fsys;
}

function cpuUser(s: CgroupStats | undefined): number | undefined {
  return s?.version === 2 && s.cpu?.userUsec !== undefined ? s.cpu.userUsec / 1e6 : undefined;
}

const DEADLINE_MS = 2000;

test('engine (readThread): a collection returns by its deadline with b while a read of a hangs; the stuck reader is replaced, a skipped until its read returns', async () => {
  const fsys = await hungTree(30);
  // The deadline leaves the new reader (a worker thread: from the sources, tsx's loader starts
  // with it, ~1 s on a loaded machine) time to read b after the hung read is given up.
  const cg = new CgroupMetrics({ root: fsys.dir, readThread: true, collectTimeoutMs: DEADLINE_MS, stuckReadMs: 400, groups: ['cpu', 'memory'] });
  cleanups.push(() => cg.close());
  const c = cg.openConsumer();
  cg.add({ id: 'a', cgroup: '/a' });
  cg.add({ id: 'b', cgroup: '/b' });
  const times: number[] = [];
  for (let k = 0; k < 3; k++) {
    const t0 = performance.now();
    const s = await c.snapshot();
    times.push(performance.now() - t0);
    assert.deepEqual(
      s.live.map((l) => l.task.id),
      ['b'],
      `collection ${k}: b read, a not`,
    );
    assert.equal(cpuUser(s.live[0]?.result.stats), LOADED.cpuUser);
    assert.ok((times[k] as number) < DEADLINE_MS + 400, `collection ${k} took ${times[k]} ms (deadline ${DEADLINE_MS})`);
  }
  console.log(`# hung read: collections took ${times.map((t) => t.toFixed(0)).join(', ')} ms against a ${DEADLINE_MS} ms deadline`);
  assert.equal(cg.stuckReaders, 1, 'the reader stuck in a read of a/memory.stat is abandoned');
  // b's final reading comes from the new reader at once; a's is its last known (none: never read).
  const fb = await cg.stop('b');
  assert.equal(fb.source, 'read');
  assert.equal(cpuUser(fb.stats), LOADED.cpuUser);
  const t0 = performance.now();
  const fa = await cg.stop('a');
  assert.ok(performance.now() - t0 < 200, 'the stuck task is not read again');
  assert.equal(fa.source, 'none');
  // The daemon gone, the hung read returns (an error): the abandoned reader closes and ends.
  await fsys.close();
  for (let i = 0; i < 100 && cg.stuckReaders > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(cg.stuckReaders, 0, 'the abandoned reader came back and ended');
});

test('collect --collect-timeout 1000 prints b within the deadline while a hangs; the process ends when the read returns', async () => {
  const fsys = await hungTree(4);
  const t0 = performance.now();
  const child = spawn(process.execPath, [CLI, 'collect', ...TASKS(fsys.dir)]);
  let out = '';
  let firstOutputMs = 0;
  child.stdout.on('data', (d: Buffer) => {
    firstOutputMs ||= performance.now() - t0;
    out += d.toString();
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  const exitMs = performance.now() - t0;
  console.log(`# collect: output after ${firstOutputMs.toFixed(0)} ms (deadline 1000), exit after ${exitMs.toFixed(0)} ms (the hung read answers after 4000)`);
  assert.match(out, new RegExp(`^container_cpu_time_seconds_total\\{[^}]*container_id="b"[^}]*cpu_mode="user"[^}]*\\} ${LOADED.cpuUser}$`, 'm'));
  assert.doesNotMatch(out, /container_id="a"/);
  assert.match(out, /^cgroup_metrics_read_errors_total\{error_type="timeout"[^}]*\} 1$/m);
  assert.ok(firstOutputMs < 2500, `the page came ${firstOutputMs} ms after the start, not at the deadline`);
  assert.match(err, /a read is stuck in the kernel \(1 reading thread\(s\)\): ending by SIGKILL/);
  assert.deepEqual(exit, { code: null, signal: 'SIGKILL' });
});

test('agent: scrapes and OTLP pushes answer while a hangs; SIGTERM flushes b and says so before the read returns', async () => {
  const fsys = await hungTree(8);
  const rx = await OtlpReceiver.start();
  cleanups.push(() => rx.close());
  const port = await freePort();
  const agent = new AgentProcess([...TASKS(fsys.dir), ...promAndOtlpFlags(port, rx.url, 1500), '--shutdown-timeout', '3000']);
  cleanups.push(() => agent.stop());
  const url = await agent.prometheusUrl();
  const started = performance.now();
  const scrapes: number[] = [];
  for (let k = 0; k < 3; k++) {
    const t = performance.now();
    const page = (await httpGet(url)).body;
    scrapes.push(performance.now() - t);
    assert.match(page, /container_cpu_time_seconds_total\{[^}]*container_id="b"/, `scrape ${k} has b`);
  }
  const push = await rx.waitFor((r) => pointsWith(r.body, 'container.cpu.time', { 'container.id': 'b', 'cpu.mode': 'user' }).length > 0, 5000, 'a push with b');
  assert.ok(push);
  const t = performance.now();
  agent.child.kill('SIGTERM');
  const line = await agent.waitForStderr(/stopped 2 task\(s\); every final reading delivered|final reading\(s\) not delivered/, 5000);
  const flushMs = performance.now() - t;
  const exit = await agent.waitForExit(15_000);
  const exitMs = performance.now() - t;
  console.log(
    `# agent during a hung read: scrapes ${scrapes.map((s) => s.toFixed(0)).join(', ')} ms (deadline 1000); SIGTERM → "${line[0]}" after ${flushMs.toFixed(0)} ms, exit after ${exitMs.toFixed(0)} ms (${JSON.stringify(exit)}), the read answering ${(8000 - (t - started)).toFixed(0)} ms after the signal`,
  );
  for (const s of scrapes) assert.ok(s < 2500, `a scrape took ${s} ms`);
  assert.ok(flushMs < 3500, `the shutdown said its last line ${flushMs} ms after SIGTERM`);
  const finals = rx.requests.filter((r) =>
    pointsWith(r.body, 'container.cpu.time', { 'container.id': 'b', 'cpu.mode': 'user' }).some((p) => p.value === LOADED.cpuUser),
  );
  assert.ok(finals.length > 0, "b's final reading was pushed");
  assert.match(agent.stderrLines().join('\n'), /a read is stuck in the kernel/);
});
