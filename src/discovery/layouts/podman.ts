import { HEX64, segments, type BuiltinLayout } from './layout.ts';

const SCOPE = new RegExp(`/libpod-(${HEX64})\\.scope$`);

/** podman: libpod-<id>.scope under machine.slice or a user's slice (rootless). */
export const podman: BuiltinLayout<'podman'> = {
  name: 'podman',
  onByDefault: true,
  topDirectories: ['machine.slice', 'user.slice'],
  match(p) {
    const m = SCOPE.exec(p);
    return m ? { namespace: 'podman', id: m[1] as string, attributes: { 'container.runtime.name': 'podman' } } : undefined;
  },
  mayContain(p) {
    const s = segments(p);
    if (s.length === 0) return true;
    if (s[0] === 'machine.slice') return s.length === 1;
    // Rootless: /user.slice/user-1000.slice/user@1000.service/user.slice
    if (s[0] === 'user.slice') return s.length <= 4 && !s.some((x) => x.startsWith('libpod-'));
    return false;
  },
};
