import { segments, type BuiltinLayout } from './layout.ts';

/** systemd's units: never a containerd namespace or id. */
const SYSTEMD_UNIT = /\.(slice|scope|service|mount|socket)$/;
/** Host directories that are no layout's: the cgroup2 mirror of hybrid hosts. */
const HOST_DIRECTORIES: ReadonlySet<string> = new Set(['unified']);

function reserved(seg: string, claimed: ReadonlySet<string>): boolean {
  return SYSTEMD_UNIT.test(seg) || HOST_DIRECTORIES.has(seg) || claimed.has(seg);
}

/**
 * containerd with cgroupfs: /<namespace>/<id> (ctr, nerdctl, moby under containerd). Any
 * top-level directory may be a namespace, except systemd's units, host directories and the
 * directories the other layouts claim.
 */
export const containerd: BuiltinLayout<'containerd'> = {
  name: 'containerd',
  onByDefault: true,
  topDirectories: [],
  match(p, claimed) {
    const s = segments(p);
    if (s.length !== 2) return undefined;
    const [ns, id] = s as [string, string];
    if (reserved(ns, claimed) || reserved(id, claimed)) return undefined;
    return { namespace: ns, id, attributes: { 'container.runtime.name': 'containerd' } };
  },
  mayContain(p, claimed) {
    const s = segments(p);
    return s.length === 0 || (s.length === 1 && !reserved(s[0] as string, claimed));
  },
};
