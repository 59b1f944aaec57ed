import { inodeOf } from '../netns.ts';
import { parseNetDev } from '../parse/net-dev.ts';
import type { Reading } from '../reading.ts';
import type { NetworkInterfaceStats, V1Stats, V2Stats } from '../types.ts';
import type { Controller } from './controller.ts';

/**
 * network: the interfaces of the task's network namespace (not lo), from /proc/<pid>/net/dev
 * of one of its processes, kept open like the cgroup files: an open net/dev holds its
 * namespace, so the final reading has the namespace's last counters even after its last
 * process exited. A task in the host's namespace has no network series (the node's counters),
 * nor has a task whose processes were gone before its first read (no zeros). Only the task
 * that owns a shared namespace reports it (see netns.ts).
 */
export const networkController: Controller = {
  groups: ['network'],

  readV1(r, cg, s) {
    const dir = cg.unified ?? cg.dirs.cpuacct ?? cg.dirs.cpu ?? cg.dirs.memory ?? cg.dirs.pids;
    if (dir !== undefined) readNetwork(r, dir, s);
  },

  readV2(r, dir, s) {
    readNetwork(r, dir, s);
  },
};

function readNetwork(r: Reading, cgroupDir: string, s: V1Stats | V2Stats): void {
  const registry = r.netns;
  if (!registry || r.state.net === 'host') return;
  let net = r.state.net;
  let text = net ? r.procText(net.dir, 'dev') : undefined;
  if (text === undefined) {
    // Not found yet, or its process is gone and nothing kept the file open: one of the
    // processes in the cgroup now (the namespace is the same for all of a container's).
    const procs = r.text(cgroupDir, 'cgroup.procs');
    const pid = procs?.slice(0, procs.indexOf('\n')).trim();
    if (!pid) return;
    const ino = inodeOf(`${registry.procRoot}/${pid}/ns/net`);
    if (ino === undefined) return;
    if (ino === registry.host) {
      r.state.net = 'host';
      return;
    }
    net = { ino, dir: `${registry.procRoot}/${pid}/net`, registry };
    r.state.net = net;
    text = r.procText(net.dir, 'dev');
    if (text === undefined) return;
  }
  if (!net || !registry.claim(net.ino, r.state)) return;
  const rows: NetworkInterfaceStats[] = [];
  for (const row of parseNetDev(text, r)) if (row.interface !== 'lo') rows.push(row);
  r.rangeChecked(net.dir, 'dev');
  s.network = rows;
}
