/**
 * EventsWatcher on real cgroup2 directories (the host's cgroup2 mount: /sys/fs/cgroup/unified on
 * this hybrid host, /sys/fs/cgroup on a v2 one), with both mechanisms: the native events thread
 * (native/cgroup-events.c, which `npm ci` builds) and the inotify fallback (forced with OCM_NO_NATIVE_EVENTS=1).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { hostCgroupMounts } from '../../src/cgroup/mounts.ts';
import type { CapturedFiles } from '../../src/cgroup/captured.ts';
import { EventsWatcher } from '../../src/discovery/events-watch.ts';
import { Discovery } from '../../src/discovery/watcher.ts';
import { CgroupMetrics } from '../../src/metrics/cgroup-metrics.ts';
import { randomName, sleep, waitFor } from '../metrics/helpers.ts';

const v2 = hostCgroupMounts().v2;

function openEventsFds(): string[] {
  const out: string[] = [];
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      const l = fs.readlinkSync(`/proc/self/fd/${fd}`);
      if (l.endsWith('/cgroup.events')) out.push(l);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

describe('EventsWatcher on a real cgroup2 directory', () => {
  assert.ok(v2, 'this host has no cgroup2 mount (hybrid /sys/fs/cgroup/unified or v2 /sys/fs/cgroup)');
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) if (fs.existsSync(d)) fs.rmdirSync(d); // cgroupfs: rmdir, never a recursive rm
  });
  const mkCgroup = (): string => {
    const d = path.join((v2 as { mountPoint: string }).mountPoint, randomName('ocm-ev'));
    fs.mkdirSync(d);
    dirs.push(d);
    return d;
  };

  test('the addon is built and used (CI must not fall back silently: the fallback misses short containers)', () => {
    const w = new EventsWatcher();
    assert.equal(w.mechanism, 'native', `the native events thread is not in use: ${w.nativeStatus} (npm install builds it with cc: scripts/build-native.mjs)`);
  });

  for (const mechanism of ['native', 'inotify'] as const) {
    test(`${mechanism}: populated 1, then populated 0 when the process exits; closing after rmdir closes the file`, async () => {
      const saved = process.env.OCM_NO_NATIVE_EVENTS;
      if (mechanism === 'inotify') process.env.OCM_NO_NATIVE_EVENTS = '1';
      const w = new EventsWatcher();
      if (saved === undefined) delete process.env.OCM_NO_NATIVE_EVENTS;
      else process.env.OCM_NO_NATIVE_EVENTS = saved;
      assert.equal(w.mechanism, mechanism);

      const dir = mkCgroup();
      const seen: Array<string | undefined> = [];
      const handle = w.watch(path.join(dir, 'cgroup.events'), (text) => seen.push(text));
      assert.equal(openEventsFds().length, mechanism === 'native' ? 1 : 0, 'epoll holds the file open; inotify does not');
      assert.equal(w.size, mechanism === 'native' ? 1 : 0);
      assert.equal(handle.reliable, mechanism === 'native', 'only epoll misses nothing (the rescan skips its check)');

      const child = spawn('sh', ['-c', `echo $$ > ${dir}/cgroup.procs; sleep 0.2`], { stdio: 'ignore' });
      await new Promise((resolve) => child.on('exit', resolve));
      await waitFor(() => seen.some((t) => t?.includes('populated 0')), 2000, 'populated 0 reported');
      const texts = seen.filter((t): t is string => t !== undefined);
      assert.match(texts[0] ?? '', /^populated 1$/m, `first change: ${JSON.stringify(seen)}`);
      assert.match(texts.at(-1) ?? '', /^populated 0$/m);

      // rmdir wakes no poller reliably: the owner (Discovery, on the directory's removal) ends the watch.
      fs.rmdirSync(dir);
      const n = seen.length;
      await sleep(100);
      assert.ok(
        seen.length === n || (seen.length === n + 1 && seen.at(-1) === undefined),
        `after rmdir, at most one undefined: ${JSON.stringify(seen.slice(n))}`,
      );
      handle.close();
      assert.equal(handle.reliable, false, 'a closed watch is no longer relied on');
      assert.equal(w.size, 0, 'the watch ended');
      assert.deepEqual(openEventsFds(), [], 'and its file closed');
      const m = seen.length;
      await sleep(50);
      assert.equal(seen.length, m, 'no events after the end (a level-triggered EPOLLPRI must not spin)');
      handle.close(); // idempotent
    });
  }

  test('close() ends every watch and closes every file; an idle watch gets no events', async () => {
    const w = new EventsWatcher();
    const a = mkCgroup();
    const b = mkCgroup();
    let calls = 0;
    w.watch(path.join(a, 'cgroup.events'), () => calls++);
    w.watch(path.join(b, 'cgroup.events'), () => calls++);
    await sleep(100);
    assert.equal(calls, 0, 'nothing changed, nothing reported');
    if (w.mechanism === 'native') assert.equal(openEventsFds().length, 2);
    w.close();
    assert.equal(w.size, 0);
    assert.deepEqual(openEventsFds(), []);
  });

  test('native: at populated 0 the events thread reads the captured files while the main thread is blocked, before the cgroup is removed', async () => {
    const w = new EventsWatcher();
    const dir = mkCgroup();
    const got: Array<{ text: string | undefined; captured: CapturedFiles | undefined }> = [];
    const handle = w.watch(path.join(dir, 'cgroup.events'), (text, captured) => got.push({ text, captured }));
    const cpuStat = path.join(dir, 'cpu.stat');
    const missing = path.join(dir, 'no-such-file');
    handle.capture([cpuStat, path.join(dir, 'cgroup.procs'), missing]);
    // A process burns some CPU in the cgroup and exits; this thread never yields from the kill to
    // the rmdir: only a thread of its own can have read the files in between.
    const child = spawn('sh', ['-c', `echo $$ > ${dir}/cgroup.procs; while :; do :; done`], { stdio: 'ignore' });
    await waitFor(() => fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').trim() !== '', 2000, 'the process in the cgroup');
    await sleep(150);
    const usageUsec = (): number => Number(/^usage_usec (\d+)$/m.exec(fs.readFileSync(cpuStat, 'latin1'))?.[1]);
    const before = usageUsec();
    const killedAt = Date.now();
    child.kill('SIGKILL');
    const until = Date.now() + 2000;
    while (!/^populated 0$/m.test(fs.readFileSync(path.join(dir, 'cgroup.events'), 'latin1')) && Date.now() < until);
    // runc removes the directory later than this (it first reaps, then reports to the shim).
    const rmdirAfter = Date.now() + 20;
    while (Date.now() < rmdirAfter);
    fs.rmdirSync(dir);
    const rmdirAt = Date.now();
    assert.ok(!fs.existsSync(dir), 'removed before the event loop ran again');
    await waitFor(() => got.some((g) => g.captured), 2000, 'the captured files');
    handle.close();
    const ev = got.find((g) => g.captured) as { text: string; captured: CapturedFiles };
    assert.match(ev.text, /^populated 0$/m);
    const files = ev.captured.files;
    assert.deepEqual([...files.keys()], [cpuStat, path.join(dir, 'cgroup.procs'), missing], 'in the registered order');
    const stat = Buffer.from(files.get(cpuStat) as Uint8Array).toString('latin1');
    const usage = Number(/^usage_usec (\d+)$/m.exec(stat)?.[1]);
    assert.ok(
      before > 0 && usage >= before,
      `cpu.stat read at populated 0 (usage_usec ${usage}) has the burn read just before the kill (${before}): ${JSON.stringify(stat.slice(0, 80))}`,
    );
    assert.equal(Buffer.from(files.get(path.join(dir, 'cgroup.procs')) as Uint8Array).toString(), '', 'no process left');
    assert.equal(files.get(missing), 2, 'a file that cannot be read: its errno (ENOENT)');
    assert.ok(
      ev.captured.wakeMs >= killedAt - 5 && ev.captured.doneMs <= rmdirAt + 1,
      `read between the kill (${killedAt}) and the rmdir (${rmdirAt}): woke ${ev.captured.wakeMs.toFixed(2)}, done ${ev.captured.doneMs.toFixed(2)}`,
    );
    assert.ok(ev.captured.doneMs - ev.captured.wakeMs < 50, `the reads took ${(ev.captured.doneMs - ev.captured.wakeMs).toFixed(3)} ms`);
  });

  test('native: the events thread is named ocm-events and runs at nice -10 (root may raise its weight), or at the value given', async () => {
    const threads = (): Array<{ tid: string; nice: number }> =>
      fs
        .readdirSync('/proc/self/task')
        .filter((tid) => {
          try {
            return fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() === 'ocm-events';
          } catch {
            return false;
          }
        })
        .map((tid) => ({ tid, nice: Number(fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]?.split(' ')[16]) }));
    const before = threads().length;
    for (const [nice, want] of [
      [undefined, -10],
      [0, 0],
      [5, 5],
    ] as const) {
      const w = new EventsWatcher(nice);
      const h = w.watch(path.join(mkCgroup(), 'cgroup.events'), () => undefined);
      await waitFor(() => threads().length === before + 1, 2000, 'the thread started');
      const t = threads().find((x) => x.nice === want);
      assert.ok(t, `an ocm-events thread at nice ${want}: ${JSON.stringify(threads())}`);
      h.close();
      w.close();
      await waitFor(() => threads().length === before, 2000, 'the thread ended with close()');
    }
  });

  test('a file that is not there: the error is thrown to the caller (ENOENT), nothing is left open', () => {
    const w = new EventsWatcher();
    assert.throws(() => w.watch('/sys/fs/cgroup/unified/ocm-no-such-cgroup/cgroup.events', () => undefined), { code: 'ENOENT' });
    assert.equal(w.size, 0);
    assert.deepEqual(openEventsFds(), []);
  });
});

test('Discovery: eventsNice outside -20..19 or not an integer is a ConfigError', () => {
  const engine = new CgroupMetrics();
  for (const bad of [-21, 20, 1.5, Number.NaN])
    assert.throws(() => new Discovery(engine, { layouts: [], eventsNice: bad }), {
      name: 'ConfigError',
      message: /eventsNice must be an integer from -20 to 19/,
    });
  new Discovery(engine, { layouts: [], eventsNice: 0 }).close();
});
