import { inodeOf } from '../netns.ts';
import { processesDir } from '../resolve.ts';
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
    const dir = processesDir(cg);
    if (dir !== undefined) readNetwork(r, dir, s);
  },

  readV2(r, dir, s) {
    readNetwork(r, dir, s);
  },
};

/** How long a task seen in the host's namespace is looked at again: runtimes move it into its own in this time. */
const HOST_SETTLE_MS = 10_000;

function readNetwork(r: Reading, cgroupDir: string, s: V1Stats | V2Stats): void {
  const registry = r.netns;
  if (!registry) return;
  let net = r.state.net;
  if (net && 'hostSince' in net) {
    // A runtime puts its init process into the cgroup before it enters the container's own
    // namespace: a task seen in the host's namespace is looked at again for its first seconds.
    if (Date.now() - net.hostSince > HOST_SETTLE_MS) return;
    net = undefined;
  }
  let text = net ? r.procText(net.dir, 'dev') : undefined;
  if (text === undefined) {
    // Not found yet, or its process is gone and nothing kept the file open: one of the
    // processes in the cgroup now (the namespace is the same for all of a container's).
    const procs = r.text(cgroupDir, 'cgroup.procs');
    const pid = procs?.split('\n', 1)[0]?.trim();
    if (!pid) return;
    const ino = inodeOf(`${registry.procRoot}/${pid}/ns/net`);
    if (ino === undefined) return;
    if (ino === registry.host) {
      const prev = r.state.net;
      r.state.net = { hostSince: prev && 'hostSince' in prev ? prev.hostSince : Date.now() };
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
