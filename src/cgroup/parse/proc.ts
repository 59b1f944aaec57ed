/** Parsers for /proc files that locate cgroups: mountinfo, /proc/<pid>/cgroup, and block-device uevent. */

export interface MountInfoEntry {
  mountId: number;
  parentId: number;
  /** The directory of the filesystem mounted here (for cgroups: the hierarchy path seen at the mount, `/` outside a cgroup namespace). */
  root: string;
  mountPoint: string;
  fsType: string;
  source: string;
  /** Per-superblock options: for v1 cgroups the controllers (`rw,cpu,cpuacct`, `name=systemd`). */
  superOptions: string[];
}

/** mountinfo escapes space, tab, newline and backslash as octal (`\040`). */
function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * /proc/self/mountinfo (proc(5)): `ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS`.
 * Malformed lines are skipped.
 */
export function parseMountInfo(text: string): MountInfoEntry[] {
  const out: MountInfoEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (f.length < 10 || sep < 0 || sep + 3 >= f.length + 1) continue;
    const mountId = Number(f[0]);
    const parentId = Number(f[1]);
    if (!Number.isInteger(mountId) || !Number.isInteger(parentId)) continue;
    const fsType = f[sep + 1];
    const source = f[sep + 2];
    const superOpts = f[sep + 3];
    if (fsType === undefined || source === undefined || superOpts === undefined) continue;
    out.push({
      mountId,
      parentId,
      root: unescapeOctal(f[3] ?? ''),
      mountPoint: unescapeOctal(f[4] ?? ''),
      fsType,
      source: unescapeOctal(source),
      superOptions: superOpts.split(','),
    });
  }
  return out;
}

export interface ProcCgroupLine {
  hierarchyId: number;
  /** v1: the controllers of that hierarchy (`cpu`, `cpuacct`, `name=systemd`); empty for the v2 (`0::`) line. */
  controllers: string[];
  path: string;
}

/** /proc/<pid>/cgroup: `ID:CONTROLLERS:PATH` per line; `0::PATH` is the cgroup2 line. */
export function parseProcCgroup(text: string): ProcCgroupLine[] {
  const out: ProcCgroupLine[] = [];
  for (const line of text.split('\n')) {
    const a = line.indexOf(':');
    const b = a < 0 ? -1 : line.indexOf(':', a + 1);
    if (a <= 0 || b < 0) continue;
    const id = Number(line.slice(0, a));
    const path = line.slice(b + 1);
    if (!Number.isInteger(id) || id < 0 || !path.startsWith('/')) continue;
    const ctl = line.slice(a + 1, b);
    out.push({ hierarchyId: id, controllers: ctl === '' ? [] : ctl.split(','), path });
  }
  return out;
}

/** /sys/dev/block/MAJ:MIN/uevent: `KEY=VALUE` lines; returns DEVNAME. */
export function parseUeventDevName(text: string): string | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('DEVNAME=')) {
      const name = line.slice(8).trim();
      return name === '' ? undefined : name;
    }
  }
  return undefined;
}

/**
 * The start time of a process from `/proc/<pid>/stat`, in clock ticks after boot (field 22), or
 * undefined for a malformed line. The command name (field 2) is in parentheses and may hold
 * spaces and parentheses itself: the fields are counted after its last `)`.
 */
export function parseProcStatStartTicks(text: string): number | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const fields = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  // fields[0] is field 3 (state): field 22 is fields[19].
  const ticks = fields[19];
  if (ticks === undefined || !/^\d{1,19}$/.test(ticks)) return undefined;
  const n = Number(ticks);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** The boot time from `/proc/stat` (`btime`, seconds since the epoch), or undefined. */
export function parseBootTimeS(text: string): number | undefined {
  const m = /^btime (\d{1,12})$/m.exec(text);
  return m ? Number(m[1]) : undefined;
}

/**
 * /proc/<pid>/limits: the soft limit of "Max open files" (RLIMIT_NOFILE), or undefined when the
 * line is missing or malformed. `unlimited` is Infinity.
 */
export function parseOpenFilesLimit(text: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith('Max open files '));
  if (line === undefined) return undefined;
  const soft = line.slice('Max open files '.length).trim().split(/\s+/)[0] ?? '';
  if (soft === 'unlimited') return Infinity;
  if (!/^\d{1,15}$/.test(soft)) return undefined;
  return Number(soft);
}
