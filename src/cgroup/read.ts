import * as fs from 'node:fs';
import { FileReader } from './file-reader.ts';
import { splitCpu, type CpuSplit } from './cpu-split.ts';
import { parseBlkio, type BlkioRow } from './parse/blkio.ts';
import { parsePressure } from './parse/pressure.ts';
import {
  finiteOrUndefined,
  parseCpuMax,
  parseFlatKeyed,
  parseIntegerList,
  parseLimit,
  parseNestedKeyed,
  parseSingleValue,
  pickFlatKeyed,
} from './parse/values.ts';
import {
  V1_MEMORY_STAT_KEYS,
  V2_MEMORY_STAT_KEYS,
  type DiskDeviceStats,
  type DiskStats,
  type HugetlbStats,
  type MetricGroup,
  type PressureStats,
  type ReadError,
  type ReadResult,
  type TaskCgroup,
  type V1Stats,
  type V2Stats,
} from './types.ts';

/**
 * Per-task memory between reads: files found absent while their directory existed (a kernel
 * without memsw or memory.peak, the blkio files of an unused I/O scheduler) are not tried
 * again, and hugetlb page sizes are listed once.
 */
export interface ReadState {
  /** Full paths of the files found absent. */
  absent: Set<string>;
  /** Their base names: a cheap first test (literal names hash once; fresh paths would hash at every read). */
  absentNames?: string[];
  /** v1: the last CPU split by mode (see cpu-split.ts), so that both modes only grow. */
  cpuSplit?: CpuSplit;
  hugetlbSizes?: string[];
}
export function newReadState(): ReadState {
  return { absent: new Set() };
}

const defaultReader = new FileReader();

const PRESSURE_FILES = [
  ['cpu', 'cpu.pressure'],
  ['memory', 'memory.pressure'],
  ['io', 'io.pressure'],
] as const;

/** One read of one cgroup: collects errors, notices the directory vanishing, never throws. */
class Reading {
  readonly errors: ReadError[] = [];
  gone = false;
  constructor(
    private readonly reader: FileReader,
    private readonly state: ReadState,
  ) {}

  text(dir: string, name: string): string | undefined {
    if (this.gone) return undefined;
    const file = `${dir}/${name}`;
    // The name first: hashing the fresh path at every read cost ~3 % of a cycle, and caching the
    // paths per task cost ~3 KB of heap per task.
    if (this.state.absentNames?.includes(name) && this.state.absent.has(file)) return undefined;
    try {
      const t = this.reader.read(file);
      // A FIFO or device planted in the tree reads as empty (O_NONBLOCK, no writer): report it
      // instead of passing it on as an empty file. Only empty reads pay for the stat.
      if (t === '' && !fs.statSync(file).isFile()) {
        this.parseError(dir, name, 'not a regular file');
        return undefined;
      }
      return t;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
      if (code === 'ENOENT' || code === 'ENODEV') {
        // ENODEV: the file was open while its cgroup was removed. ENOENT: the file or the cgroup is gone.
        if (code === 'ENODEV' || !fs.existsSync(dir)) {
          this.gone = true;
          this.errors.push({ type: 'ENOENT', path: dir, message: `cgroup ${dir} was removed` });
        } else {
          this.state.absent.add(file);
          if (this.state.absentNames) this.state.absentNames.push(name);
          else this.state.absentNames = [name]; // capacity 1: a first push would reserve 16
        }
        return undefined;
      }
      this.errors.push({ type: code, path: file, message: `cannot read ${file}: ${(err as Error).message}` });
      return undefined;
    }
  }

  parseError(dir: string, name: string, what: string): void {
    this.errors.push({ type: 'parse', path: `${dir}/${name}`, message: `cannot parse ${dir}/${name}: ${what}` });
  }

  /** A single-integer file. */
  int(dir: string, name: string): number | undefined {
    const t = this.text(dir, name);
    if (t === undefined) return undefined;
    const v = parseSingleValue(t);
    if (v === undefined) this.parseError(dir, name, `expected an integer, got ${JSON.stringify(t.slice(0, 40))}`);
    return v;
  }

  /** A limit file: undefined when unlimited, absent or malformed. */
  limit(dir: string, name: string): number | undefined {
    const t = this.text(dir, name);
    if (t === undefined) return undefined;
    const v = parseLimit(t);
    if (v === undefined) this.parseError(dir, name, `expected an integer or max, got ${JSON.stringify(t.slice(0, 40))}`);
    return finiteOrUndefined(v);
  }

  /** A `key value` file; a non-empty file with no valid line is a parse error. */
  keyed(dir: string, name: string): Map<string, number> | undefined {
    const t = this.text(dir, name);
    if (t === undefined) return undefined;
    const m = parseFlatKeyed(t);
    if (m.size === 0 && t.trim() !== '') {
      this.parseError(dir, name, 'no "key value" line');
      return undefined;
    }
    return m;
  }

  /** `pickKeys(keyed(dir, name), keys)`, without building the whole map. */
  picked<K extends string>(dir: string, name: string, keys: readonly K[]): Partial<Record<K, number>> | undefined {
    const t = this.text(dir, name);
    if (t === undefined) return undefined;
    const { values, valid } = pickFlatKeyed(t, keys);
    if (!valid && t.trim() !== '') {
      this.parseError(dir, name, 'no "key value" line');
      return undefined;
    }
    return values;
  }

  pressure(dir: string): PressureStats | undefined {
    const out: PressureStats = {};
    let any = false;
    for (const [r, name] of PRESSURE_FILES) {
      const t = this.text(dir, name);
      if (t === undefined) continue;
      const p = parsePressure(t);
      if (!p.some && !p.full) {
        this.parseError(dir, name, 'no some/full line');
        continue;
      }
      out[r] = p;
      any = true;
    }
    return any ? out : undefined;
  }
}

function defined<T extends object>(o: T): T | undefined {
  for (const k in o) if (o[k] !== undefined) return o;
  return undefined;
}

/**
 * Copies the defined fields into a fresh object. Not `delete`: that turns V8 objects into
 * dictionaries several times larger, and every task keeps its last reading.
 */
function compact<T extends object>(o: T): T {
  const out = {} as T;
  for (const k in o) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

/** v1 blkio rows → per-device read/write bytes and operations. */
export function blkioToDevices(bytes: BlkioRow[], ops: BlkioRow[]): DiskDeviceStats[] {
  const byDev = new Map<string, DiskDeviceStats>();
  const get = (r: BlkioRow): DiskDeviceStats => {
    const k = `${r.major}:${r.minor}`;
    let d = byDev.get(k);
    if (!d) {
      d = { major: r.major, minor: r.minor, readBytes: 0, writeBytes: 0, readOps: 0, writeOps: 0 };
      byDev.set(k, d);
    }
    return d;
  };
  for (const r of bytes) {
    if (r.op === 'Read') get(r).readBytes += r.value;
    else if (r.op === 'Write') get(r).writeBytes += r.value;
  }
  for (const r of ops) {
    if (r.op === 'Read') get(r).readOps += r.value;
    else if (r.op === 'Write') get(r).writeOps += r.value;
  }
  return [...byDev.values()];
}

// Where v1 keeps blkio counters, in order of preference: the legacy CFQ files, BFQ's, then the
// throttle layer's (which counts on every kernel, but only for devices with a throttle rule).
const BLKIO_SOURCES: ReadonlyArray<{ bytes: string; ops: string; source: 'recursive' | 'throttle' }> = [
  { bytes: 'blkio.io_service_bytes_recursive', ops: 'blkio.io_serviced_recursive', source: 'recursive' },
  { bytes: 'blkio.bfq.io_service_bytes_recursive', ops: 'blkio.bfq.io_serviced_recursive', source: 'recursive' },
  { bytes: 'blkio.throttle.io_service_bytes_recursive', ops: 'blkio.throttle.io_serviced_recursive', source: 'throttle' },
];

function readV1Disk(r: Reading, dir: string): DiskStats | undefined {
  let seen = false;
  for (const src of BLKIO_SOURCES) {
    const bytesText = r.text(dir, src.bytes);
    if (bytesText === undefined) continue;
    seen = true;
    // Every row has a MAJ:MIN: a text without ':' (the usual `Total 0`) has none, no need to split it.
    const bytes = bytesText.includes(':') ? parseBlkio(bytesText) : [];
    if (bytes.length === 0 && bytesText.trim() !== '' && !/^Total \d+$/m.test(bytesText)) r.parseError(dir, src.bytes, 'no "MAJ:MIN Op value" row and no Total line');
    if (bytes.length === 0) continue; // `Total 0` only: fall through to the next source
    const opsText = r.text(dir, src.ops);
    const ops = opsText === undefined ? [] : parseBlkio(opsText);
    return { devices: blkioToDevices(bytes, ops), source: src.source };
  }
  return seen ? { devices: [] } : undefined;
}

function hugetlbSizes(r: Reading, state: ReadState, dir: string, suffix: string): string[] {
  if (state.hugetlbSizes) return state.hugetlbSizes;
  let sizes: string[] = [];
  try {
    sizes = fs
      .readdirSync(dir)
      .filter((f) => f.startsWith('hugetlb.') && f.endsWith(suffix) && f.split('.').length === 3)
      .map((f) => f.split('.')[1] as string);
  } catch {
    r.gone = r.gone || !fs.existsSync(dir);
  }
  state.hugetlbSizes = sizes;
  return sizes;
}

function readV1(r: Reading, cg: Extract<TaskCgroup, { version: 1 }>, groups: ReadonlySet<MetricGroup>, state: ReadState): V1Stats {
  const s: V1Stats = { version: 1 };
  const { cpu, cpuacct, memory, blkio, pids, hugetlb } = cg.dirs;
  if (groups.has('cpu') && (cpu || cpuacct)) {
    const c: NonNullable<V1Stats['cpu']> = {};
    if (cpuacct) {
      c.usageNs = r.int(cpuacct, 'cpuacct.usage');
      c.usageUserNs = r.int(cpuacct, 'cpuacct.usage_user');
      c.usageSysNs = r.int(cpuacct, 'cpuacct.usage_sys');
      if (c.usageUserNs === undefined || c.usageSysNs === undefined) {
        // Kernels before 4.16 have no usage_user/usage_sys: fall back to USER_HZ ticks.
        const st = r.keyed(cpuacct, 'cpuacct.stat');
        c.userTicks = st?.get('user');
        c.systemTicks = st?.get('system');
      }
    }
    const sampledUser = c.usageUserNs ?? c.userTicks;
    const sampledSys = c.usageSysNs ?? c.systemTicks;
    if (c.usageNs !== undefined && sampledUser !== undefined && sampledSys !== undefined) {
      const split = splitCpu(state.cpuSplit, c.usageNs, sampledUser, sampledSys);
      state.cpuSplit = split;
      c.userNs = split.user;
      c.systemNs = split.system;
    }
    if (cpu) {
      const st = r.keyed(cpu, 'cpu.stat');
      c.nrPeriods = st?.get('nr_periods');
      c.nrThrottled = st?.get('nr_throttled');
      c.throttledTimeNs = st?.get('throttled_time');
      c.cfsQuotaUs = r.limit(cpu, 'cpu.cfs_quota_us');
      c.cfsPeriodUs = r.int(cpu, 'cpu.cfs_period_us');
    }
    s.cpu = defined(compact(c));
  }
  if (groups.has('cpu.percpu') && cpuacct) {
    const t = r.text(cpuacct, 'cpuacct.usage_percpu');
    if (t !== undefined) {
      const list = parseIntegerList(t);
      if (list === undefined) r.parseError(cpuacct, 'cpuacct.usage_percpu', 'expected integers');
      else (s.cpu ??= {}).percpuNs = list;
    }
  }
  if (groups.has('memory') && memory) {
    const m: NonNullable<V1Stats['memory']> = {
      usage: r.int(memory, 'memory.usage_in_bytes'),
      limit: r.limit(memory, 'memory.limit_in_bytes'),
      maxUsage: r.int(memory, 'memory.max_usage_in_bytes'),
      failcnt: r.int(memory, 'memory.failcnt'),
      memswUsage: r.int(memory, 'memory.memsw.usage_in_bytes'),
    };
    const oom = r.keyed(memory, 'memory.oom_control');
    m.oomKill = oom?.get('oom_kill');
    m.underOom = oom?.get('under_oom');
    const stat = r.picked(memory, 'memory.stat', V1_MEMORY_STAT_KEYS);
    if (stat) m.stat = stat;
    s.memory = defined(compact(m));
  }
  if (groups.has('disk') && blkio) s.disk = readV1Disk(r, blkio);
  if (groups.has('pids') && pids) {
    s.pids = defined(compact({ current: r.int(pids, 'pids.current'), max: r.limit(pids, 'pids.max') }));
  }
  if (groups.has('hugetlb') && hugetlb) {
    const list: HugetlbStats[] = [];
    for (const size of hugetlbSizes(r, state, hugetlb, '.usage_in_bytes')) {
      const h = compact({
        pageSize: size,
        usage: r.int(hugetlb, `hugetlb.${size}.usage_in_bytes`),
        max: r.limit(hugetlb, `hugetlb.${size}.limit_in_bytes`),
        maxUsage: r.int(hugetlb, `hugetlb.${size}.max_usage_in_bytes`),
        failcnt: r.int(hugetlb, `hugetlb.${size}.failcnt`),
      });
      if (h.usage !== undefined || h.failcnt !== undefined) list.push(h);
    }
    if (list.length) s.hugetlb = list;
  }
  if (groups.has('pressure') && cg.unified) s.pressure = r.pressure(cg.unified);
  return compact(s);
}

function readV2(r: Reading, dir: string, groups: ReadonlySet<MetricGroup>, state: ReadState): V2Stats {
  const s: V2Stats = { version: 2 };
  if (groups.has('cpu')) {
    const st = r.keyed(dir, 'cpu.stat');
    const c: NonNullable<V2Stats['cpu']> = {
      usageUsec: st?.get('usage_usec'),
      userUsec: st?.get('user_usec'),
      systemUsec: st?.get('system_usec'),
      nrPeriods: st?.get('nr_periods'),
      nrThrottled: st?.get('nr_throttled'),
      throttledUsec: st?.get('throttled_usec'),
    };
    const maxText = r.text(dir, 'cpu.max');
    if (maxText !== undefined) {
      const mx = parseCpuMax(maxText);
      if (!mx) r.parseError(dir, 'cpu.max', `expected "QUOTA PERIOD", got ${JSON.stringify(maxText.slice(0, 40))}`);
      else {
        c.maxQuotaUs = mx.quotaUs;
        c.maxPeriodUs = mx.periodUs;
      }
    }
    s.cpu = defined(compact(c));
  }
  if (groups.has('memory')) {
    const m: NonNullable<V2Stats['memory']> = {
      current: r.int(dir, 'memory.current'),
      max: r.limit(dir, 'memory.max'),
      peak: r.int(dir, 'memory.peak'),
      swapCurrent: r.int(dir, 'memory.swap.current'),
      swapMax: r.limit(dir, 'memory.swap.max'),
    };
    const ev = r.keyed(dir, 'memory.events');
    if (ev) m.events = compact({ low: ev.get('low'), high: ev.get('high'), max: ev.get('max'), oom: ev.get('oom'), oomKill: ev.get('oom_kill') });
    const stat = r.picked(dir, 'memory.stat', V2_MEMORY_STAT_KEYS);
    if (stat) m.stat = stat;
    s.memory = defined(compact(m));
  }
  if (groups.has('disk')) {
    const t = r.text(dir, 'io.stat');
    const lines = t === undefined ? [] : parseNestedKeyed(t);
    if (t !== undefined && lines.length === 0 && t.trim() !== '') r.parseError(dir, 'io.stat', 'no "MAJ:MIN key=value" line');
    if (t !== undefined) {
      s.disk = {
        devices: lines.map((l) => ({
          major: l.major,
          minor: l.minor,
          readBytes: l.values.get('rbytes') ?? 0,
          writeBytes: l.values.get('wbytes') ?? 0,
          readOps: l.values.get('rios') ?? 0,
          writeOps: l.values.get('wios') ?? 0,
        })),
      };
    }
  }
  if (groups.has('pids')) s.pids = defined(compact({ current: r.int(dir, 'pids.current'), max: r.limit(dir, 'pids.max') }));
  if (groups.has('hugetlb')) {
    const list: HugetlbStats[] = [];
    for (const size of hugetlbSizes(r, state, dir, '.current')) {
      const ev = r.keyed(dir, `hugetlb.${size}.events`);
      const h = compact({
        pageSize: size,
        usage: r.int(dir, `hugetlb.${size}.current`),
        max: r.limit(dir, `hugetlb.${size}.max`),
        failcnt: ev?.get('max'),
      });
      if (h.usage !== undefined || h.failcnt !== undefined) list.push(h);
    }
    if (list.length) s.hugetlb = list;
  }
  if (groups.has('pressure')) s.pressure = r.pressure(dir);
  return compact(s);
}

/**
 * Reads one task's cgroup: only the files that the enabled metric groups need. Never throws:
 * a missing file leaves its value absent, a bad file becomes an entry of `errors`, and a
 * cgroup removed mid-read gives `gone: true` with whatever was read before.
 */
export function readStats(
  cgroup: TaskCgroup,
  groups: ReadonlySet<MetricGroup>,
  state: ReadState = newReadState(),
  reader: FileReader = defaultReader,
): ReadResult {
  const timeMs = Date.now();
  const r = new Reading(reader, state);
  const stats = cgroup.version === 1 ? readV1(r, cgroup, groups, state) : readV2(r, cgroup.dir, groups, state);
  return { stats, errors: r.errors, gone: r.gone, timeMs };
}
