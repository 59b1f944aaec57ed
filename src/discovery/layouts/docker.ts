import { HEX64, type BuiltinLayout } from './layout.ts';

const CGROUPFS = new RegExp(`^/docker/(${HEX64})$`);
const SYSTEMD = new RegExp(`^/system\\.slice/docker-(${HEX64})\\.scope$`);

/** Docker: /docker/<id> (cgroupfs driver) and /system.slice/docker-<id>.scope (systemd driver). */
export const docker: BuiltinLayout<'docker'> = {
  name: 'docker',
  onByDefault: true,
  topDirectories: ['docker', 'system.slice'],
  match(p) {
    const m = CGROUPFS.exec(p) ?? SYSTEMD.exec(p);
    return m ? { namespace: 'moby', id: m[1] as string, attributes: { 'container.runtime.name': 'docker' } } : undefined;
  },
  mayContain: (p) => p === '/' || p === '/docker' || p === '/system.slice',
};
