import { HEX64, segments, type BuiltinLayout } from './layout.ts';

/** The systemd cgroup manager: libpod-<id>.scope, in a pod's slice or not. */
const SCOPE = new RegExp(`/libpod-(${HEX64})\\.scope$`);
/** The cgroupfs cgroup manager: /libpod_parent/libpod-<id>, or /libpod_parent/<pod id>/libpod-<id> in a pod. */
const CGROUPFS = new RegExp(`^/libpod_parent/(?:${HEX64}/)?libpod-(${HEX64})$`);
/** A pod's slice under the systemd cgroup manager: machine-libpod_pod_<pod id>.slice (rootless: user-libpod_pod_…). */
const POD_SLICE = new RegExp(`^(?:machine|user)-libpod_pod_${HEX64}\\.slice$`);
const POD_DIRECTORY = new RegExp(`^${HEX64}$`);

/**
 * podman: libpod-<id>.scope under machine.slice or a user's slice (rootless), in a pod's
 * libpod_pod_<pod id> slice or not (systemd cgroup manager); /libpod_parent/[<pod id>/]libpod-<id>
 * (cgroupfs cgroup manager, as on hosts without systemd). conmon's cgroups are never tasks.
 */
export const podman: BuiltinLayout<'podman'> = {
  name: 'podman',
  onByDefault: true,
  topDirectories: ['machine.slice', 'user.slice', 'libpod_parent'],
  match(p) {
    const m = SCOPE.exec(p) ?? CGROUPFS.exec(p);
    return m ? { namespace: 'podman', id: m[1] as string, attributes: { 'container.runtime.name': 'podman' } } : undefined;
  },
  mayContain(p) {
    const s = segments(p);
    if (s.length === 0) return true;
    if (s[0] === 'libpod_parent') return s.length === 1 || (s.length === 2 && POD_DIRECTORY.test(s[1] as string));
    if (s[0] === 'machine.slice') return s.length === 1 || (s.length === 2 && POD_SLICE.test(s[1] as string));
    // Rootless: /user.slice/user-1000.slice/user@1000.service/user.slice[/user-libpod_pod_<pod id>.slice]
    if (s[0] === 'user.slice') {
      if (s.some((x) => x.startsWith('libpod-'))) return false;
      return s.length <= 4 || (s.length === 5 && POD_SLICE.test(s[4] as string));
    }
    return false;
  },
};
