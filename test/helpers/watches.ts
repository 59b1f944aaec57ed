import * as fs from 'node:fs';

/**
 * The watches a process holds, as the kernel sees them: its inotify watches (the `inotify wd:`
 * lines of its inotify descriptors' fdinfo) plus the cgroup.events files it holds open (each one
 * an epoll watch of Discovery; none with the inotify fallback).
 */
export function kernelWatchCount(pid: number | 'self' = 'self'): number {
  let n = 0;
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    let link: string;
    try {
      link = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (link.endsWith('/cgroup.events')) n++;
      else if (link === 'anon_inode:inotify')
        n += fs
          .readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'latin1')
          .split('\n')
          .filter((l) => l.startsWith('inotify wd:')).length;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}
