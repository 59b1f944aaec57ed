/**
 * EventsWatcher on real cgroup2 directories (the host's cgroup2 mount: /sys/fs/cgroup/unified on
 * this hybrid host, /sys/fs/cgroup on a v2 one), with both mechanisms: epoll (the `epoll`
 * addon, which `npm ci` builds) and the inotify fallback (forced with OCM_NO_EPOLL=1).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { hostCgroupMounts } from '../../src/cgroup/mounts.ts';
import { EventsWatcher } from '../../src/discovery/events-watch.ts';
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
    assert.equal(w.mechanism, 'epoll', 'the optional `epoll` addon did not build: npm install needs python3, make and g++');
  });

  for (const mechanism of ['epoll', 'inotify'] as const) {
    test(`${mechanism}: populated 1, then populated 0 when the process exits; closing after rmdir closes the file`, async () => {
      const saved = process.env.OCM_NO_EPOLL;
      if (mechanism === 'inotify') process.env.OCM_NO_EPOLL = '1';
      const w = new EventsWatcher();
      if (saved === undefined) delete process.env.OCM_NO_EPOLL;
      else process.env.OCM_NO_EPOLL = saved;
      assert.equal(w.mechanism, mechanism);

      const dir = mkCgroup();
      const seen: Array<string | undefined> = [];
      const handle = w.watch(path.join(dir, 'cgroup.events'), (text) => seen.push(text));
      assert.equal(openEventsFds().length, mechanism === 'epoll' ? 1 : 0, 'epoll holds the file open; inotify does not');
      assert.equal(w.size, mechanism === 'epoll' ? 1 : 0);
      assert.equal(handle.reliable, mechanism === 'epoll', 'only epoll misses nothing (the rescan skips its check)');

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
    if (w.mechanism === 'epoll') assert.equal(openEventsFds().length, 2);
    w.close();
    assert.equal(w.size, 0);
    assert.deepEqual(openEventsFds(), []);
  });

  test('a file that is not there: the error is thrown to the caller (ENOENT), nothing is left open', () => {
    const w = new EventsWatcher();
    assert.throws(() => w.watch('/sys/fs/cgroup/unified/ocm-no-such-cgroup/cgroup.events', () => undefined), { code: 'ENOENT' });
    assert.equal(w.size, 0);
    assert.deepEqual(openEventsFds(), []);
  });
});
