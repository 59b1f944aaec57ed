import type { BuiltinLayout } from './layout.ts';

const SERVICE = /^\/system\.slice\/([^/]+)\.service$/;

/** systemd services: /system.slice/<unit>.service. Off by default: services are not containers. */
export const systemd: BuiltinLayout<'systemd'> = {
  name: 'systemd',
  onByDefault: false,
  topDirectories: ['system.slice'],
  match(p) {
    const m = SERVICE.exec(p);
    return m ? { namespace: 'systemd', id: `${m[1]}.service`, attributes: { 'systemd.unit': `${m[1]}.service` } } : undefined;
  },
  mayContain: (p) => p === '/' || p === '/system.slice',
};
