import type { Attributes } from '@opentelemetry/api';
import type { CgroupStats, DiskDeviceStats, HugetlbStats, MetricGroup, NetworkInterfaceStats, PressureStats, V1Stats, V2Stats } from '../cgroup/types.ts';
import type { SelfSnapshot } from './snapshot.ts';

/**
 * The metric catalog: one declarative table that drives both delivery paths (the
 * MetricProducer and the observable instruments) and the README's table. Names follow the
 * OpenTelemetry container semantic conventions first, the Collector's docker_stats receiver
 * second. Cumulative kernel counters are counters (containerd exports them as gauges),
 * "unlimited" is no point (never 0 or 1.8e19), CPU is in seconds.
 */

/** counter = monotonic cumulative sum, updowncounter = non-monotonic sum, gauge = gauge. */
export type MetricKind = 'counter' | 'updowncounter' | 'gauge';

/** Where one point's value goes: `attrs` are the point's own attributes (cpu.mode, ...), if any. */
export type Emit = (value: number, attrs?: Attributes) => void;

export interface ReadingContext {
  /** When the task started (add() time or the caller's startTime), ms since the epoch. */
  startTimeMs: number;
  /** When this reading was taken, ms since the epoch. */
  timeMs: number;
}

export interface MetricDefinition {
  name: string;
  kind: MetricKind;
  unit: string;
  description: string;
  group: MetricGroup;
  /** Integer-valued metrics are exported as ints; the rest (seconds, ratios) as doubles. */
  valueType: 'int' | 'double';
  /** Point attribute keys beyond the task's own (documentation and tests). */
  pointAttributes: readonly string[];
  /** Human-readable sources for the README table. */
  source: { v1: string; v2: string };
  /** Emits this metric's points for one reading (nothing when the source is absent). */
  read(stats: CgroupStats, emit: Emit, ctx: ReadingContext): void;
}

const NS = 1e9;
const US = 1e6;
/** USER_HZ: 100 on every Linux ABI that has cgroups (sysconf(_SC_CLK_TCK)). */
const USER_HZ = 100;

// Interned point attributes: one object per distinct value, shared by every task and collection.
const MODE_USER = { 'cpu.mode': 'user' } as const;
const MODE_SYSTEM = { 'cpu.mode': 'system' } as const;
const FAULT_MAJOR = { 'system.paging.fault.type': 'major' } as const;
const FAULT_MINOR = { 'system.paging.fault.type': 'minor' } as const;
const PRESSURE: Record<string, Record<string, Attributes>> = {};
for (const r of ['cpu', 'memory', 'io']) {
  PRESSURE[r] = {
    some: { 'pressure.resource': r, 'pressure.type': 'some' },
    full: { 'pressure.resource': r, 'pressure.type': 'full' },
  };
}
// Keyed by the device name that the reader gave the row (see cgroup/devices.ts).
const diskAttrCache = new Map<string, { read: Attributes; write: Attributes }>();
function diskAttrs(d: DiskDeviceStats): { read: Attributes; write: Attributes } {
  let a = diskAttrCache.get(d.device);
  if (!a) {
    a = {
      read: { 'disk.io.direction': 'read', 'system.device': d.device },
      write: { 'disk.io.direction': 'write', 'system.device': d.device },
    };
    diskAttrCache.set(d.device, a);
  }
  return a;
}
const netAttrCache = new Map<string, { receive: Attributes; transmit: Attributes }>();
function netAttrs(i: NetworkInterfaceStats): { receive: Attributes; transmit: Attributes } {
  let a = netAttrCache.get(i.interface);
  if (!a) {
    a = {
      receive: { 'network.io.direction': 'receive', 'network.interface.name': i.interface },
      transmit: { 'network.io.direction': 'transmit', 'network.interface.name': i.interface },
    };
    // Names inside containers repeat (eth0): a bounded cache, fresh objects beyond it.
    if (netAttrCache.size < 1024) netAttrCache.set(i.interface, a);
  }
  return a;
}
type NetField = 'Bytes' | 'Packets' | 'Errors' | 'Dropped';
function network(s: CgroupStats, emit: Emit, field: NetField): void {
  for (const i of s.network ?? []) {
    const a = netAttrs(i);
    emit(i[`rx${field}`], a.receive);
    emit(i[`tx${field}`], a.transmit);
  }
}
const NET_SOURCE = {
  v1: '`/proc/<pid>/net/dev` of a process of the task (kept open: the final reading survives its last process)',
  v2: 'the same',
};
/** The four network rows: one shape, by the net/dev field they carry. */
const NETWORK_ROWS: MetricDefinition[] = (
  [
    [
      'container.network.io',
      'By',
      'Bytes',
      "Bytes received and transmitted by the task's network namespace, by interface (not lo; none in the host's namespace; one task per shared namespace)",
    ],
    ['container.network.packets', '{packet}', 'Packets', "Packets received and transmitted by the task's network namespace, by interface"],
    ['container.network.errors', '{error}', 'Errors', "Receive and transmit errors of the task's network namespace, by interface"],
    ['container.network.dropped', '{packet}', 'Dropped', "Packets dropped on receive and transmit in the task's network namespace, by interface"],
  ] as const
).map(([name, unit, field, description]) => ({
  name,
  kind: 'counter',
  unit,
  valueType: 'int',
  group: 'network',
  description,
  pointAttributes: ['network.io.direction', 'network.interface.name'],
  source: NET_SOURCE,
  read: (s: CgroupStats, emit: Emit) => network(s, emit, field),
}));
const hugeAttrCache = new Map<string, Attributes>();
function hugeAttrs(h: HugetlbStats): Attributes {
  let a = hugeAttrCache.get(h.pageSize);
  if (!a) {
    a = { 'hugetlb.page_size': h.pageSize };
    hugeAttrCache.set(h.pageSize, a);
  }
  return a;
}
const cpuNumberAttrs: Attributes[] = [];
function cpuNumber(i: number): Attributes {
  cpuNumberAttrs[i] ??= { 'cpu.logical_number': i };
  return cpuNumberAttrs[i];
}

function emitIf(emit: Emit, v: number | undefined, attrs?: Attributes): void {
  if (v !== undefined && Number.isFinite(v)) emit(v, attrs);
}

/** A row whose value comes from one field per version. */
function field(v1: (s: V1Stats) => number | undefined, v2: (s: V2Stats) => number | undefined): MetricDefinition['read'] {
  return (s, emit) => emitIf(emit, s.version === 1 ? v1(s) : v2(s));
}

function memoryUsage(s: CgroupStats): number | undefined {
  return s.version === 1 ? s.memory?.usage : s.memory?.current;
}
function inactiveFile(s: CgroupStats): number | undefined {
  return s.version === 1 ? s.memory?.stat?.total_inactive_file : s.memory?.stat?.inactive_file;
}
function memoryLimit(s: CgroupStats): number | undefined {
  return s.version === 1 ? s.memory?.limit : s.memory?.max;
}
/** usage − inactive file, floored at 0: what the kernel would not reclaim first (cAdvisor's definition). */
function workingSet(s: CgroupStats): number | undefined {
  const usage = memoryUsage(s);
  if (usage === undefined) return undefined;
  return Math.max(0, usage - (inactiveFile(s) ?? 0));
}

function disk(s: CgroupStats, emit: Emit, bytes: boolean): void {
  for (const d of s.disk?.devices ?? []) {
    const r = bytes ? d.readBytes : d.readOps;
    const w = bytes ? d.writeBytes : d.writeOps;
    if (r === 0 && w === 0) continue; // idle devices (loop0..7 on the root) are noise
    const a = diskAttrs(d);
    emit(r, a.read);
    emit(w, a.write);
  }
}

function pressure(p: PressureStats | undefined, emit: Emit): void {
  if (!p) return;
  for (const r of ['cpu', 'memory', 'io'] as const) {
    const psi = p[r];
    const attrs = PRESSURE[r] as Record<string, Attributes>;
    if (psi?.some) emit(psi.some.totalUs / US, attrs.some);
    if (psi?.full) emit(psi.full.totalUs / US, attrs.full);
  }
}

export const CATALOG: readonly MetricDefinition[] = [
  {
    name: 'container.cpu.time',
    kind: 'counter',
    unit: 's',
    valueType: 'double',
    group: 'cpu',
    description: 'CPU time consumed by the task, by mode',
    pointAttributes: ['cpu.mode'],
    source: {
      v1: '`cpuacct.usage` (ns), each increase split in the ratio of the increases of `cpuacct.usage_user`/`usage_sys` (else `cpuacct.stat` ticks)',
      v2: '`cpu.stat` `user_usec`/`system_usec`',
    },
    read(s, emit) {
      if (s.version === 2) {
        emitIf(emit, s.cpu?.userUsec !== undefined ? s.cpu.userUsec / US : undefined, MODE_USER);
        emitIf(emit, s.cpu?.systemUsec !== undefined ? s.cpu.systemUsec / US : undefined, MODE_SYSTEM);
        return;
      }
      const c = s.cpu;
      if (!c) return;
      if (c.userNs !== undefined && c.systemNs !== undefined) {
        emit(c.userNs / NS, MODE_USER);
        emit(c.systemNs / NS, MODE_SYSTEM);
      } else if (c.usageUserNs !== undefined && c.usageSysNs !== undefined) {
        emit(c.usageUserNs / NS, MODE_USER);
        emit(c.usageSysNs / NS, MODE_SYSTEM);
      } else {
        emitIf(emit, c.userTicks !== undefined ? c.userTicks / USER_HZ : undefined, MODE_USER);
        emitIf(emit, c.systemTicks !== undefined ? c.systemTicks / USER_HZ : undefined, MODE_SYSTEM);
      }
    },
  },
  {
    name: 'container.cpu.throttling_data.periods',
    kind: 'counter',
    unit: '{period}',
    valueType: 'int',
    group: 'cpu',
    description: 'CFS enforcement periods elapsed',
    pointAttributes: [],
    source: { v1: '`cpu.stat` `nr_periods`', v2: '`cpu.stat` `nr_periods`' },
    read: field(
      (s) => s.cpu?.nrPeriods,
      (s) => s.cpu?.nrPeriods,
    ),
  },
  {
    name: 'container.cpu.throttling_data.throttled_periods',
    kind: 'counter',
    unit: '{period}',
    valueType: 'int',
    group: 'cpu',
    description: 'CFS periods in which the task was throttled',
    pointAttributes: [],
    source: { v1: '`cpu.stat` `nr_throttled`', v2: '`cpu.stat` `nr_throttled`' },
    read: field(
      (s) => s.cpu?.nrThrottled,
      (s) => s.cpu?.nrThrottled,
    ),
  },
  {
    name: 'container.cpu.throttling_data.throttled_time',
    kind: 'counter',
    unit: 's',
    valueType: 'double',
    group: 'cpu',
    description: 'Total time the task was throttled',
    pointAttributes: [],
    source: { v1: '`cpu.stat` `throttled_time` (ns)', v2: '`cpu.stat` `throttled_usec`' },
    read: field(
      (s) => (s.cpu?.throttledTimeNs !== undefined ? s.cpu.throttledTimeNs / NS : undefined),
      (s) => (s.cpu?.throttledUsec !== undefined ? s.cpu.throttledUsec / US : undefined),
    ),
  },
  {
    name: 'container.cpu.limit',
    kind: 'gauge',
    unit: '{cpu}',
    valueType: 'double',
    group: 'cpu',
    description: 'CPU quota in CPUs (quota ÷ period); absent when unlimited',
    pointAttributes: [],
    source: { v1: '`cpu.cfs_quota_us` ÷ `cpu.cfs_period_us`; none when -1', v2: '`cpu.max` quota ÷ period; none when `max`' },
    read: field(
      (s) => (s.cpu?.cfsQuotaUs !== undefined && s.cpu.cfsPeriodUs ? s.cpu.cfsQuotaUs / s.cpu.cfsPeriodUs : undefined),
      (s) => (s.cpu?.maxQuotaUs !== undefined && s.cpu.maxPeriodUs ? s.cpu.maxQuotaUs / s.cpu.maxPeriodUs : undefined),
    ),
  },
  {
    name: 'container.cpu.usage.percpu',
    kind: 'counter',
    unit: 's',
    valueType: 'double',
    group: 'cpu.percpu',
    description: 'CPU time consumed by the task on each logical CPU',
    pointAttributes: ['cpu.logical_number'],
    source: { v1: '`cpuacct.usage_percpu` (ns)', v2: 'not available' },
    read(s, emit) {
      if (s.version !== 1) return;
      const percpu = s.cpu?.percpuNs;
      if (percpu) for (let i = 0; i < percpu.length; i++) emit((percpu[i] as number) / NS, cpuNumber(i));
    },
  },
  {
    name: 'container.memory.usage',
    kind: 'updowncounter',
    unit: 'By',
    valueType: 'int',
    group: 'memory',
    description: 'Memory charged to the task, page cache included',
    pointAttributes: [],
    source: { v1: '`memory.usage_in_bytes`', v2: '`memory.current`' },
    read: (s, emit) => emitIf(emit, memoryUsage(s)),
  },
  {
    name: 'container.memory.working_set',
    kind: 'updowncounter',
    unit: 'By',
    valueType: 'int',
    group: 'memory',
    description: 'Memory usage minus inactive file cache, floored at 0',
    pointAttributes: [],
    source: { v1: 'usage − `total_inactive_file`', v2: 'usage − `inactive_file`' },
    read: (s, emit) => emitIf(emit, workingSet(s)),
  },
  {
    name: 'container.memory.rss',
    kind: 'updowncounter',
    unit: 'By',
    valueType: 'int',
    group: 'memory',
    description: 'Anonymous memory',
    pointAttributes: [],
    source: { v1: '`memory.stat` `total_rss`', v2: '`memory.stat` `anon`' },
    read: field(
      (s) => s.memory?.stat?.total_rss,
      (s) => s.memory?.stat?.anon,
    ),
  },
  {
    name: 'container.memory.file',
    kind: 'updowncounter',
    unit: 'By',
    valueType: 'int',
    group: 'memory',
    description: 'File-backed memory (page cache)',
    pointAttributes: [],
    source: { v1: '`memory.stat` `total_cache`', v2: '`memory.stat` `file`' },
    read: field(
      (s) => s.memory?.stat?.total_cache,
      (s) => s.memory?.stat?.file,
    ),
  },
  {
    name: 'container.memory.available',
    kind: 'updowncounter',
    unit: 'By',
    valueType: 'int',
    group: 'memory',
    description: 'Memory limit minus working set, floored at 0; absent when unlimited',
    pointAttributes: [],
    source: { v1: 'limit − working set', v2: 'limit − working set' },
    read(s, emit) {
      const limit = memoryLimit(s);
      const ws = workingSet(s);
      if (limit !== undefined && ws !== undefined) emit(Math.max(0, limit - ws));
    },
  },
  {
    name: 'container.memory.usage.limit',
    kind: 'updowncounter',
    unit: 'By',
    valueType: 'int',
    group: 'memory',
    description: 'Memory limit; absent when unlimited',
    pointAttributes: [],
    source: { v1: '`memory.limit_in_bytes`; none when unlimited', v2: '`memory.max`; none when `max`' },
    read: (s, emit) => emitIf(emit, memoryLimit(s)),
  },
  {
    name: 'container.memory.usage.max',
    kind: 'updowncounter',
    unit: 'By',
    valueType: 'int',
    group: 'memory',
    description: 'Peak memory usage',
    pointAttributes: [],
    source: { v1: '`memory.max_usage_in_bytes`', v2: '`memory.peak` (kernel ≥ 5.19)' },
    read: field(
      (s) => s.memory?.maxUsage,
      (s) => s.memory?.peak,
    ),
  },
  {
    name: 'container.memory.swap.usage',
    kind: 'updowncounter',
    unit: 'By',
    valueType: 'int',
    group: 'memory',
    description: 'Swap used by the task',
    pointAttributes: [],
    source: { v1: '`memory.memsw.usage_in_bytes` − `memory.usage_in_bytes`', v2: '`memory.swap.current`' },
    read: field(
      (s) => (s.memory?.memswUsage !== undefined && s.memory.usage !== undefined ? Math.max(0, s.memory.memswUsage - s.memory.usage) : undefined),
      (s) => s.memory?.swapCurrent,
    ),
  },
  {
    name: 'container.memory.fails',
    kind: 'counter',
    unit: '{fail}',
    valueType: 'int',
    group: 'memory',
    description: 'Times the memory limit was hit',
    pointAttributes: [],
    source: { v1: '`memory.failcnt`', v2: '`memory.events` `max`' },
    read: field(
      (s) => s.memory?.failcnt,
      (s) => s.memory?.events?.max,
    ),
  },
  {
    name: 'container.memory.oom_kills',
    kind: 'counter',
    unit: '{kill}',
    valueType: 'int',
    group: 'memory',
    description: 'Processes killed by the OOM killer',
    pointAttributes: [],
    source: { v1: '`memory.oom_control` `oom_kill` (kernel ≥ 4.13)', v2: '`memory.events` `oom_kill`' },
    read: field(
      (s) => s.memory?.oomKill,
      (s) => s.memory?.events?.oomKill,
    ),
  },
  {
    name: 'container.paging.faults',
    kind: 'counter',
    unit: '{fault}',
    valueType: 'int',
    group: 'memory',
    description: 'Page faults, by type',
    pointAttributes: ['system.paging.fault.type'],
    source: { v1: '`total_pgmajfault`; minor = `total_pgfault` − `total_pgmajfault`', v2: '`pgmajfault`; minor = `pgfault` − `pgmajfault`' },
    read(s, emit) {
      const st = s.memory?.stat;
      const all = s.version === 1 ? s.memory?.stat?.total_pgfault : s.memory?.stat?.pgfault;
      const major = s.version === 1 ? s.memory?.stat?.total_pgmajfault : s.memory?.stat?.pgmajfault;
      if (!st || major === undefined) return;
      emit(major, FAULT_MAJOR);
      if (all !== undefined) emit(Math.max(0, all - major), FAULT_MINOR);
    },
  },
  {
    name: 'container.disk.io',
    kind: 'counter',
    unit: 'By',
    valueType: 'int',
    group: 'disk',
    description: 'Bytes read and written, by device',
    pointAttributes: ['disk.io.direction', 'system.device'],
    source: { v1: "`blkio.io_service_bytes_recursive` (or BFQ's), else the `throttle` twin", v2: '`io.stat` `rbytes`/`wbytes`' },
    read: (s, emit) => disk(s, emit, true),
  },
  {
    name: 'container.disk.operations',
    kind: 'counter',
    unit: '{operation}',
    valueType: 'int',
    group: 'disk',
    description: 'Read and write operations, by device',
    pointAttributes: ['disk.io.direction', 'system.device'],
    source: { v1: "`blkio.io_serviced_recursive` (or BFQ's), else the `throttle` twin", v2: '`io.stat` `rios`/`wios`' },
    read: (s, emit) => disk(s, emit, false),
  },
  ...NETWORK_ROWS,
  {
    // docker_stats calls it container.pids.count; `_count` is reserved for histograms and summaries
    // in Prometheus (promtool refuses container_pids_count on a gauge), so the kernel's word.
    name: 'container.pids.current',
    kind: 'updowncounter',
    unit: '{process}',
    valueType: 'int',
    group: 'pids',
    description: 'Processes and threads in the task',
    pointAttributes: [],
    source: { v1: '`pids.current`', v2: '`pids.current`' },
    read: field(
      (s) => s.pids?.current,
      (s) => s.pids?.current,
    ),
  },
  {
    name: 'container.pids.limit',
    kind: 'updowncounter',
    unit: '{process}',
    valueType: 'int',
    group: 'pids',
    description: 'Maximum processes and threads; absent when unlimited',
    pointAttributes: [],
    source: { v1: '`pids.max`; none when `max`', v2: '`pids.max`; none when `max`' },
    read: field(
      (s) => s.pids?.max,
      (s) => s.pids?.max,
    ),
  },
  {
    name: 'container.hugetlb.usage',
    kind: 'updowncounter',
    unit: 'By',
    valueType: 'int',
    group: 'hugetlb',
    description: 'Huge page usage, by page size',
    pointAttributes: ['hugetlb.page_size'],
    source: { v1: '`hugetlb.<size>.usage_in_bytes`', v2: '`hugetlb.<size>.current`' },
    read(s, emit) {
      for (const h of s.hugetlb ?? []) emitIf(emit, h.usage, hugeAttrs(h));
    },
  },
  {
    name: 'container.hugetlb.fails',
    kind: 'counter',
    unit: '{fail}',
    valueType: 'int',
    group: 'hugetlb',
    description: 'Huge page allocations that hit the limit, by page size',
    pointAttributes: ['hugetlb.page_size'],
    source: { v1: '`hugetlb.<size>.failcnt`', v2: '`hugetlb.<size>.events` `max`' },
    read(s, emit) {
      for (const h of s.hugetlb ?? []) emitIf(emit, h.failcnt, hugeAttrs(h));
    },
  },
  {
    name: 'container.pressure.time',
    kind: 'counter',
    unit: 's',
    valueType: 'double',
    group: 'pressure',
    description: 'Time tasks stalled on a resource (PSI), by resource and type',
    pointAttributes: ['pressure.resource', 'pressure.type'],
    source: { v1: "the task's cgroup2 twin on hybrid hosts (`/sys/fs/cgroup/unified/...`)", v2: '`{cpu,memory,io}.pressure` `total=` (µs)' },
    read: (s, emit) => pressure(s.pressure, emit),
  },
  {
    name: 'container.uptime',
    kind: 'gauge',
    unit: 's',
    valueType: 'double',
    group: 'uptime',
    description: 'Time since the task started (add() or the start time given)',
    pointAttributes: [],
    source: { v1: 'time since `add()` (or the start time given)', v2: 'same' },
    read: (_s, emit, ctx) => emit(Math.max(0, (ctx.timeMs - ctx.startTimeMs) / 1000)),
  },
];

/** The component's own metrics: one row each, read from the engine's SelfSnapshot. */
export interface SelfMetricDefinition {
  name: string;
  kind: MetricKind;
  unit: string;
  description: string;
  valueType: 'int' | 'double';
  /** Emits this metric's points for one collection. */
  read(self: SelfSnapshot, emit: Emit): void;
}

const errorAttrCache = new Map<string, Attributes>();
/** The interned `error.type` attributes of one error type. */
export function errorTypeAttrs(type: string): Attributes {
  let a = errorAttrCache.get(type);
  if (!a) {
    a = { 'error.type': type };
    errorAttrCache.set(type, a);
  }
  return a;
}

const metadataErrorAttrCache = new Map<string, Attributes>();
/** The interned attributes of a metadata error key, `<source>\0<type>`. */
function metadataErrorAttrs(key: string): Attributes {
  let a = metadataErrorAttrCache.get(key);
  if (!a) {
    const [source = '', type = ''] = key.split('\u0000');
    a = { 'metadata.source': source, 'error.type': type };
    metadataErrorAttrCache.set(key, a);
  }
  return a;
}

const exporterAttrCache = new Map<string, Attributes>();
/** The interned `exporter` attributes of one exporter. */
/** The `source` attributes of cgroup_metrics.final_readings, in export order. */
const READ_PATH_KEPT = { read_path: 'kept' } as const;
const READ_PATH_REOPEN = { read_path: 'reopen' } as const;

const FINAL_SOURCE_ATTRS = (['read', 'young', 'periodic', 'none'] as const).map((source) => [source, { source }] as const);

function exporterAttrs(exporter: string): Attributes {
  let a = exporterAttrCache.get(exporter);
  if (!a) {
    a = { exporter };
    exporterAttrCache.set(exporter, a);
  }
  return a;
}

export const SELF_METRICS = {
  tasks: {
    name: 'cgroup_metrics.tasks',
    kind: 'updowncounter',
    unit: '{task}',
    valueType: 'int',
    description: 'Tasks registered now',
    read: (self, emit) => emit(self.tasks),
  },
  duration: {
    name: 'cgroup_metrics.collection.duration',
    kind: 'gauge',
    unit: 's',
    valueType: 'double',
    description: "Wall time of the last collection's cgroup reads",
    read: (self, emit) => emit(self.collectionDurationS),
  },
  errors: {
    name: 'cgroup_metrics.read.errors',
    kind: 'counter',
    unit: '{error}',
    valueType: 'int',
    description: 'Failed reads, by error.type (ENOENT, EACCES, timeout, parse, range, ...)',
    read(self, emit) {
      for (const [type, n] of self.errors) emit(n, errorTypeAttrs(type));
    },
  },
  pending: {
    name: 'cgroup_metrics.final_readings.pending',
    kind: 'updowncounter',
    unit: '{reading}',
    valueType: 'int',
    description: 'Final readings waiting for delivery to this reader (not yet acknowledged)',
    read: (self, emit) => emit(self.pending),
  },
  finals: {
    name: 'cgroup_metrics.final_readings.sources',
    kind: 'counter',
    unit: '{task}',
    valueType: 'int',
    description:
      "Stopped tasks by where their final reading came from (source): read at stop, else (the cgroup gone) the last young-task reading or the last collection's (periodic), or none: the agent's capture rate",
    read(self, emit) {
      for (const [source, attrs] of FINAL_SOURCE_ATTRS) emit(self.finalSources[source], attrs);
    },
  },
  missed: {
    name: 'cgroup_metrics.final_readings.missed',
    kind: 'counter',
    unit: '{reading}',
    valueType: 'int',
    description: 'Stopped tasks whose cgroup was gone before the final read: their last periodic or young-task reading (or nothing) went out instead',
    read: (self, emit) => emit(self.missed),
  },
  dropped: {
    name: 'cgroup_metrics.final_readings.dropped',
    kind: 'counter',
    unit: '{reading}',
    valueType: 'int',
    description: 'Final readings this reader never got: dropped, oldest first, because the queue was full',
    read: (self, emit) => emit(self.dropped),
  },
  filesOpen: {
    name: 'cgroup_metrics.files.open',
    kind: 'updowncounter',
    unit: '{file}',
    valueType: 'int',
    description: 'Cgroup files kept open between reads now (one positional read each per collection)',
    read: (self, emit) => emit(self.keptFiles.open),
  },
  filesLimit: {
    name: 'cgroup_metrics.files.limit',
    kind: 'updowncounter',
    unit: '{file}',
    valueType: 'int',
    description: 'The most cgroup files kept open at once: RLIMIT_NOFILE less headroom, or the maxOpenFiles option (0: none kept)',
    read: (self, emit) => emit(self.keptFiles.limit),
  },
  readPath: {
    name: 'cgroup_metrics.tasks.read_path',
    kind: 'updowncounter',
    unit: '{task}',
    valueType: 'int',
    description: 'Registered tasks by read_path: kept (their files kept open) or reopen (open/read/close at each read: beyond the file budget)',
    read(self, emit) {
      const kept = Math.min(self.keptFiles.tasks, self.tasks);
      emit(kept, READ_PATH_KEPT);
      emit(self.tasks - kept, READ_PATH_REOPEN);
    },
  },
  metadataErrors: {
    name: 'cgroup_metrics.metadata.errors',
    kind: 'counter',
    unit: '{error}',
    valueType: 'int',
    description: "Failed lookups of a container's names in its runtime's API, by metadata.source and error.type (unavailable, timeout, protocol)",
    read(self, emit) {
      for (const [key, n] of self.metadataErrors) emit(n, metadataErrorAttrs(key));
    },
  },
  exportFailures: {
    name: 'cgroup_metrics.export.failures',
    kind: 'counter',
    unit: '{export}',
    valueType: 'int',
    description: 'Failed pushes, by exporter (otlp, console): an error answer, a socket error or no answer within the export timeout',
    read(self, emit) {
      for (const [exporter, n] of self.exportFailures) emit(n, exporterAttrs(exporter));
    },
  },
  discoveryErrors: {
    name: 'cgroup_metrics.discovery.errors',
    kind: 'counter',
    unit: '{error}',
    valueType: 'int',
    description:
      'Watches discovery could not set, by error.type (EMFILE and ENFILE: out of file descriptors; ENOSPC: out of inotify watches); such tasks are checked by the rescan',
    read(self, emit) {
      for (const [type, n] of self.discoveryErrors) emit(n, errorTypeAttrs(type));
    },
  },
} as const satisfies Record<string, SelfMetricDefinition>;

/** The self metrics in export order (the README's order). */
export const SELF_CATALOG: readonly SelfMetricDefinition[] = Object.values(SELF_METRICS);

/** The catalog rows for a set of groups. */
export function catalogFor(groups: ReadonlySet<MetricGroup>): MetricDefinition[] {
  return CATALOG.filter((d) => groups.has(d.group));
}
