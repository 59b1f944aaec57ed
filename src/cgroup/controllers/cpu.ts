import { compact, defined } from '../compact.ts';
import { splitCpu } from '../cpu-split.ts';
import { FlatKeys } from '../parse/bytes.ts';
import { parseCpuMax, parseIntegerList } from '../parse/file-formats.ts';
import type { Reading } from '../reading.ts';
import type { V1CpuStats, V2CpuStats } from '../types.ts';
import type { Controller } from './controller.ts';

const V1_CPU_STAT = new FlatKeys(['nr_periods', 'nr_throttled', 'throttled_time']);
const CPUACCT_STAT = new FlatKeys(['user', 'system']);
const V2_CPU_STAT = new FlatKeys(['usage_usec', 'user_usec', 'system_usec', 'nr_periods', 'nr_throttled', 'throttled_usec']);

/**
 * cpu and cpuacct. v1: usage from cpuacct (split by mode, see cpu-split.ts), throttling and
 * quota from cpu, per-CPU usage for the cpu.percpu group. v2: cpu.stat and cpu.max.
 */
export const cpuController: Controller = {
  groups: ['cpu', 'cpu.percpu'],

  readV1(r, cg, s, groups) {
    const { cpu, cpuacct } = cg.dirs;
    if (groups.has('cpu') && (cpu || cpuacct)) s.cpu = defined(compact(readV1Cpu(r, cpu, cpuacct)));
    if (groups.has('cpu.percpu') && cpuacct) {
      const t = r.text(cpuacct, 'cpuacct.usage_percpu');
      if (t !== undefined) {
        const list = parseIntegerList(t, r);
        if (list === undefined && !r.rangeChecked(cpuacct, 'cpuacct.usage_percpu')) r.parseError(cpuacct, 'cpuacct.usage_percpu', 'expected integers');
        else {
          s.cpu ??= {};
          s.cpu.percpuNs = list;
        }
      }
    }
  },

  readV2(r, dir, s, groups) {
    if (!groups.has('cpu')) return;
    const st = r.keyedValues(dir, 'cpu.stat', V2_CPU_STAT);
    const c: V2CpuStats = {
      usageUsec: st?.[0],
      userUsec: st?.[1],
      systemUsec: st?.[2],
      nrPeriods: st?.[3],
      nrThrottled: st?.[4],
      throttledUsec: st?.[5],
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
  },
};

function readV1Cpu(r: Reading, cpu: string | undefined, cpuacct: string | undefined): V1CpuStats {
  const c: V1CpuStats = {};
  if (cpuacct) {
    c.usageNs = r.int(cpuacct, 'cpuacct.usage');
    c.usageUserNs = r.int(cpuacct, 'cpuacct.usage_user');
    c.usageSysNs = r.int(cpuacct, 'cpuacct.usage_sys');
    if (c.usageUserNs === undefined || c.usageSysNs === undefined) {
      // Kernels before 4.16 have no usage_user/usage_sys: fall back to USER_HZ ticks.
      const st = r.keyedValues(cpuacct, 'cpuacct.stat', CPUACCT_STAT);
      c.userTicks = st?.[0];
      c.systemTicks = st?.[1];
    }
  }
  const sampledUser = c.usageUserNs ?? c.userTicks;
  const sampledSys = c.usageSysNs ?? c.systemTicks;
  if (c.usageNs !== undefined && sampledUser !== undefined && sampledSys !== undefined) {
    const split = splitCpu(r.state.cpuSplit, c.usageNs, sampledUser, sampledSys);
    r.state.cpuSplit = split;
    c.userNs = split.user;
    c.systemNs = split.system;
  }
  if (cpu) {
    const st = r.keyedValues(cpu, 'cpu.stat', V1_CPU_STAT);
    c.nrPeriods = st?.[0];
    c.nrThrottled = st?.[1];
    c.throttledTimeNs = st?.[2];
    c.cfsQuotaUs = r.limit(cpu, 'cpu.cfs_quota_us');
    c.cfsPeriodUs = r.int(cpu, 'cpu.cfs_period_us');
  }
  return c;
}
