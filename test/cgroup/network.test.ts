/**
 * Network counters per task on real processes and network namespaces (root only; fails, never
 * skips, without them): a process in a namespace of its own (`unshare --net`) with a veth pair
 * the test moves into it, a second task in the same namespace (`nsenter --net`), a task in the
 * host's namespace and a task with no process. Traffic is sent from inside the namespace; the
 * expected counters are the kernel's own file read by the test, and the final reading is taken
 * after the namespace's last process has exited (the kept /proc/<pid>/net/dev holds it).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { parseNetDev } from '../../src/cgroup/parse/net-dev.ts';
import type { NetworkInterfaceStats } from '../../src/cgroup/types.ts';
import { CgroupMetrics, type Snapshot } from '../../src/index.ts';
import { requireV1, V1_MOUNT } from '../metrics/helpers.ts';
import { kernelTx, sendDatagrams } from '../helpers/net.ts';

const CONTROLLERS = ['cpu', 'cpuacct', 'memory', 'pids'] as const;
const parent = `ocm-net-${randomBytes(4).toString('hex')}`;
const hostIf = `ocmh${randomBytes(2).toString('hex')}`;
const nsIf = `ocmc${randomBytes(2).toString('hex')}`;
const children: ChildProcess[] = [];
const made: string[] = [];

function mkCgroup(name: string): string {
  requireV1(CONTROLLERS);
  for (const c of CONTROLLERS) fs.mkdirSync(path.join(V1_MOUNT, c, parent, name), { recursive: true });
  made.push(name);
  return `/${parent}/${name}`;
}

function enter(name: string, pid: number): void {
  for (const c of CONTROLLERS) fs.writeFileSync(path.join(V1_MOUNT, c, parent, name, 'cgroup.procs'), String(pid));
}

function start(cmd: string, args: string[]): ChildProcess {
  const c = spawn(cmd, args, { stdio: 'ignore' });
  children.push(c);
  return c;
}

async function kill(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const gone = new Promise((r) => c.once('exit', r));
  c.kill('SIGKILL');
  await gone;
}

after(async () => {
  for (const c of children) await kill(c);
  try {
    execFileSync('ip', ['link', 'del', hostIf], { stdio: 'ignore' });
  } catch {
    // gone with its namespace
  }
  for (const d of [...made.reverse().map((n) => `${parent}/${n}`), parent]) {
    for (const c of CONTROLLERS) {
      for (let i = 0; i < 50; i++) {
        try {
          fs.rmdirSync(path.join(V1_MOUNT, c, d));
          break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EBUSY') break;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    }
  }
});

function netOf(s: Snapshot | undefined, id: string, final = false): NetworkInterfaceStats[] | undefined {
  const stats = final ? s?.finals.find((f) => f.task.id === id)?.stats : s?.live.find((l) => l.task.id === id)?.result.stats;
  return stats?.network;
}

async function waitFor<T>(what: string, get: () => T | undefined, ms = 3000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > until) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a namespace of its own: its interfaces (not lo), once per namespace, none for the host namespace or a task without processes; the final reading after the last process exited has every packet sent', async () => {
  const own = start('unshare', ['--net', 'sleep', '600']);
  const ownPid = own.pid as number;
  const host = start('sleep', ['600']);
  // unshare execs sleep once the namespace is made: wait until the pid's namespace differs from ours.
  const selfNs = fs.statSync('/proc/self/ns/net').ino;
  await waitFor('the unshared namespace', () => (fs.statSync(`/proc/${ownPid}/ns/net`).ino !== selfNs ? true : undefined));
  const peer = start('nsenter', [`--net=/proc/${ownPid}/ns/net`, 'sleep', '600']);
  await waitFor('nsenter', () => (fs.existsSync(`/proc/${peer.pid}/ns/net`) && fs.statSync(`/proc/${peer.pid}/ns/net`).ino !== selfNs ? true : undefined));

  execFileSync('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf]);
  execFileSync('ip', ['link', 'set', nsIf, 'netns', String(ownPid)]);
  execFileSync('ip', ['addr', 'add', '10.231.77.1/30', 'dev', hostIf]);
  execFileSync('ip', ['link', 'set', hostIf, 'up']);
  execFileSync('nsenter', [`--net=/proc/${ownPid}/ns/net`, 'sh', '-c', `ip addr add 10.231.77.2/30 dev ${nsIf} && ip link set ${nsIf} up`]);

  const cg = new CgroupMetrics({ groups: ['cpu', 'network'] });
  const c = cg.openConsumer();
  for (const [id, pid] of [
    ['own', ownPid],
    ['peer', peer.pid as number],
    ['host', host.pid as number],
  ] as const) {
    cg.add({ id, cgroup: mkCgroup(id) });
    enter(id, pid);
  }
  cg.add({ id: 'empty', cgroup: mkCgroup('empty') });

  let s = await c.snapshot();
  assert.deepEqual(
    netOf(s, 'own')?.map((i) => i.interface),
    [nsIf],
    'the namespace of its own: its veth end, not lo',
  );
  assert.equal(netOf(s, 'peer'), undefined, 'the same namespace is reported once: by the task that read it first');
  assert.equal(netOf(s, 'host'), undefined, "the host's namespace: no network series (the node's counters)");
  assert.equal(netOf(s, 'empty'), undefined, 'no process: no network series, not zeros');

  // 60 datagrams of 200 bytes from inside the namespace to the host end.
  const N = 60;
  sendDatagrams(ownPid, N, 200, '10.231.77.1');
  const kernel = kernelTx(ownPid, nsIf);
  assert.ok(kernel && kernel.txPackets >= N && kernel.txBytes >= N * 242, `the kernel counted the datagrams: ${JSON.stringify(kernel)}`);
  s = await c.snapshot();
  const live = netOf(s, 'own')?.[0];
  assert.ok(live && live.txPackets >= kernel.txPackets && live.txBytes >= kernel.txBytes, `live reading: ${JSON.stringify(live)}`);

  // The namespace's last processes exit; the final reading comes through the kept file.
  await kill(own);
  await kill(peer);
  assert.equal(fs.existsSync(`/proc/${ownPid}/net/dev`), false, 'the process is gone');
  const res = await cg.stop('own');
  const fin = res.stats?.network?.find((i) => i.interface === nsIf);
  assert.ok(fin, `the final reading has the namespace's interface: ${JSON.stringify(res.stats?.network)}`);
  assert.ok(fin.txPackets >= kernel.txPackets && fin.txPackets <= kernel.txPackets + 20, `final tx packets ${fin.txPackets}, kernel ${kernel.txPackets}`);
  assert.ok(fin.txBytes >= kernel.txBytes, `final tx bytes ${fin.txBytes} ≥ ${kernel.txBytes}`);
  s = await c.snapshot();
  assert.deepEqual(netOf(s, 'own', true), res.stats?.network, 'delivered as the final reading');
  // The owner ended: the other task of that namespace reports it from now on (still held open by it).
  assert.equal(netOf(s, 'peer')?.[0]?.txPackets, fin.txPackets, 'the namespace passes to the next task in it');
  await cg.stopAll();
  c.close();
});

test('parseNetDev: a real /proc/self/net/dev; malformed lines skipped; never throws; round-trips', () => {
  const real = fs.readFileSync('/proc/self/net/dev', 'latin1');
  const rows = parseNetDev(real);
  assert.equal(rows.length, real.trim().split('\n').length - 2, 'one row per interface line');
  assert.ok(rows.some((r) => r.interface === 'lo'));
  const text = `Inter-|   Receive |  Transmit\n face |bytes packets\n  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\nbad line\n  x: 1 2 3\n  y: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 -1\n`;
  assert.deepEqual(parseNetDev(text), [
    { interface: 'eth0', rxBytes: 1, rxPackets: 2, rxErrors: 3, rxDropped: 4, txBytes: 9, txPackets: 10, txErrors: 11, txDropped: 12 },
  ]);
  fc.assert(fc.property(fc.string(), (s) => Array.isArray(parseNetDev(s))));
  fc.assert(
    fc.property(
      fc.stringMatching(/^[a-z][a-z0-9]{0,14}$/),
      fc.array(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), { minLength: 16, maxLength: 16 }),
      (name, v) => {
        const [row] = parseNetDev(`h\nh\n${name}: ${v.join(' ')}\n`);
        return row?.interface === name && row.rxBytes === v[0] && row.rxDropped === v[3] && row.txBytes === v[8] && row.txDropped === v[11];
      },
    ),
  );
});
