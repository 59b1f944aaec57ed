/**
 * Typed cgroup statistics, as the kernel gives them: integers in the kernel's own units
 * (bytes, nanoseconds for v1 CPU, microseconds for v2 CPU, USER_HZ ticks for cpuacct.stat).
 * Conversion to OpenTelemetry units happens in the metric catalog, not here, so that
 * `otel-cgroup-metrics stats --json` shows exactly what the files said.
 *
 * Every field is optional: a missing file leaves its value absent, a missing controller
 * leaves its group absent. `undefined` for a limit means "no limit" (`max`, -1 or the v1
 * unlimited value), never 0.
 */

/** Metric groups: each one names the files it needs; only enabled groups are read. */
export type MetricGroup = 'cpu' | 'cpu.percpu' | 'memory' | 'disk' | 'pids' | 'hugetlb' | 'pressure' | 'network' | 'uptime';
export const ALL_GROUPS: readonly MetricGroup[] = ['cpu', 'cpu.percpu', 'memory', 'disk', 'pids', 'hugetlb', 'pressure', 'network', 'uptime'];
/** cpu.percpu and hugetlb are off by default (cardinality, rarely used). */
export const DEFAULT_GROUPS: readonly MetricGroup[] = ['cpu', 'memory', 'disk', 'pids', 'pressure', 'network', 'uptime'];

/** One interface of the task's network namespace, from /proc/<pid>/net/dev. */
export interface NetworkInterfaceStats {
  interface: string;
  rxBytes: number;
  rxPackets: number;
  rxErrors: number;
  rxDropped: number;
  txBytes: number;
  txPackets: number;
  txErrors: number;
  txDropped: number;
}

export interface PsiLine {
  avg10: number;
  avg60: number;
  avg300: number;
  /** Cumulative stall time in microseconds. */
  totalUs: number;
}
export interface PsiStats {
  some?: PsiLine;
  full?: PsiLine;
}
export interface PressureStats {
  cpu?: PsiStats;
  memory?: PsiStats;
  io?: PsiStats;
}

/** One block device's counters (v1 blkio rows or a v2 io.stat line). */
export interface DiskDeviceStats {
  major: number;
  minor: number;
  /** The kernel's name for the device (`vda`, `nvme0n1`), or `MAJ:MIN` when it has none. */
  device: string;
  readBytes: number;
  writeBytes: number;
  readOps: number;
  writeOps: number;
}
export interface DiskStats {
  devices: DiskDeviceStats[];
  /** v1 only: which blkio files the rows came from. */
  source?: 'recursive' | 'throttle';
}

export interface PidsStats {
  current?: number;
  /** Absent when `max`. */
  max?: number;
}

export interface HugetlbStats {
  /** As the kernel names it in file names: `2MB`, `1GB`, `64KB`. */
  pageSize: string;
  usage?: number;
  /** Absent when unlimited. */
  max?: number;
  /** v1 `max_usage_in_bytes`. */
  maxUsage?: number;
  /** v1 `failcnt`, v2 `events` `max`. */
  failcnt?: number;
}

/** The memory.stat keys the catalog uses (v1 hierarchical `total_*`). */
export const V1_MEMORY_STAT_KEYS = [
  'total_cache',
  'total_rss',
  'total_rss_huge',
  'total_shmem',
  'total_mapped_file',
  'total_dirty',
  'total_writeback',
  'total_swap',
  'total_inactive_file',
  'total_active_file',
  'total_inactive_anon',
  'total_active_anon',
  'total_pgfault',
  'total_pgmajfault',
] as const;
export type V1MemoryStatKey = (typeof V1_MEMORY_STAT_KEYS)[number];

export const V2_MEMORY_STAT_KEYS = [
  'anon',
  'file',
  'kernel',
  'kernel_stack',
  'sock',
  'shmem',
  'file_mapped',
  'file_dirty',
  'file_writeback',
  'inactive_anon',
  'active_anon',
  'inactive_file',
  'active_file',
  'slab',
  'pgfault',
  'pgmajfault',
] as const;
export type V2MemoryStatKey = (typeof V2_MEMORY_STAT_KEYS)[number];

export interface V1CpuStats {
  /** cpuacct.usage, ns: exact (the scheduler's clock). */
  usageNs?: number;
  /**
   * usageNs by mode, ns: each reading's increase of usageNs divided in the ratio of the sampled
   * counters' increases (see cgroup/cpu-split.ts): exact in sum, and each only grows.
   */
  userNs?: number;
  systemNs?: number;
  /** cpuacct.usage_user / usage_sys, ns: sampled at ticks, so their sum drifts from usageNs (by several percent). */
  usageUserNs?: number;
  usageSysNs?: number;
  /** cpuacct.stat, USER_HZ ticks: read only when usage_user/usage_sys are absent. */
  userTicks?: number;
  systemTicks?: number;
  /** cpuacct.usage_percpu, ns per logical CPU (group cpu.percpu). */
  percpuNs?: number[];
  nrPeriods?: number;
  nrThrottled?: number;
  throttledTimeNs?: number;
  /** Absent when cfs_quota_us is -1. */
  cfsQuotaUs?: number;
  cfsPeriodUs?: number;
}

export interface V1MemoryStats {
  usage?: number;
  /** Absent when unlimited. */
  limit?: number;
  maxUsage?: number;
  failcnt?: number;
  memswUsage?: number;
  oomKill?: number;
  underOom?: number;
  stat?: Partial<Record<V1MemoryStatKey, number>>;
}

export interface V2CpuStats {
  usageUsec?: number;
  userUsec?: number;
  systemUsec?: number;
  nrPeriods?: number;
  nrThrottled?: number;
  throttledUsec?: number;
  /** cpu.max; quota absent when `max`. */
  maxQuotaUs?: number;
  maxPeriodUs?: number;
}

export interface V2MemoryEvents {
  low?: number;
  high?: number;
  max?: number;
  oom?: number;
  oomKill?: number;
}

export interface V2MemoryStats {
  current?: number;
  /** Absent when `max`. */
  max?: number;
  /** memory.peak, kernel >= 5.19. */
  peak?: number;
  swapCurrent?: number;
  swapMax?: number;
  events?: V2MemoryEvents;
  stat?: Partial<Record<V2MemoryStatKey, number>>;
}

export interface V1Stats {
  version: 1;
  cpu?: V1CpuStats;
  memory?: V1MemoryStats;
  disk?: DiskStats;
  pids?: PidsStats;
  hugetlb?: HugetlbStats[];
  /** From the task's cgroup2 directory on a hybrid host, when it has one. */
  pressure?: PressureStats;
  /** The interfaces of its network namespace (not lo), when it has one of its own and owns it (see netns.ts). */
  network?: NetworkInterfaceStats[];
}

export interface V2Stats {
  version: 2;
  cpu?: V2CpuStats;
  memory?: V2MemoryStats;
  disk?: DiskStats;
  pids?: PidsStats;
  hugetlb?: HugetlbStats[];
  pressure?: PressureStats;
  network?: NetworkInterfaceStats[];
}

export type CgroupStats = V1Stats | V2Stats;

/** v1 controllers that we read (and `name=systemd` style named hierarchies, which we only locate). */
export type V1Controller = 'cpu' | 'cpuacct' | 'memory' | 'blkio' | 'pids' | 'hugetlb';
export const V1_CONTROLLERS: readonly V1Controller[] = ['cpu', 'cpuacct', 'memory', 'blkio', 'pids', 'hugetlb'];

/** Where one task's cgroup lives: the directories to read. */
export type TaskCgroup =
  | {
      version: 1;
      /** The cgroup path relative to each hierarchy's root, e.g. `/default/task1`. */
      path: string;
      /** One directory per v1 controller in which the cgroup exists. */
      dirs: Partial<Record<V1Controller, string>>;
      /** The cgroup2 directory of the same task on a hybrid host (pressure, cgroup.events). */
      unified?: string;
    }
  | {
      version: 2;
      path: string;
      dir: string;
    };

/** Why a file could not be read: an errno code, `parse`, or `timeout`. */
export type ReadErrorType = 'ENOENT' | 'EACCES' | 'EPERM' | 'ENODEV' | 'EIO' | 'parse' | 'timeout' | (string & {});

export interface ReadError {
  type: ReadErrorType;
  /** The file (or directory) concerned. */
  path: string;
  message: string;
}

export interface ReadResult {
  stats: CgroupStats;
  /** Files that failed. A missing optional file is not an error: its value is just absent. */
  errors: ReadError[];
  /** The cgroup directory disappeared during (or before) the read: `stats` holds what was read before. */
  gone: boolean;
  /** Wall-clock time of the read, ms since the epoch. */
  timeMs: number;
  /** The cgroup files it read, when asked for (TaskReader.one with `record`). */
  files?: string[];
}

/** The v1 shape of TaskCgroup. */
export type V1TaskCgroup = Extract<TaskCgroup, { version: 1 }>;
