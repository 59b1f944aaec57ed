import { compact, defined } from '../compact.ts';
import { FlatKeys } from '../parse/bytes.ts';
import { V1_MEMORY_STAT_KEYS, V2_MEMORY_STAT_KEYS, type V1MemoryStats, type V2MemoryStats } from '../types.ts';
import type { Controller } from './controller.ts';

const V1_STAT = new FlatKeys(V1_MEMORY_STAT_KEYS);
const V2_STAT = new FlatKeys(V2_MEMORY_STAT_KEYS);
const OOM_CONTROL = new FlatKeys(['oom_kill', 'under_oom']);
const EVENTS = new FlatKeys(['low', 'high', 'max', 'oom', 'oom_kill']);

/**
 * memory. v1: usage, limit, peak, failcnt, memsw usage, OOM state and the hierarchical
 * memory.stat keys. v2: current, max, peak, swap, memory.events and memory.stat.
 */
export const memoryController: Controller = {
  groups: ['memory'],

  readV1(r, cg, s) {
    const dir = cg.dirs.memory;
    if (!dir) return;
    const m: V1MemoryStats = {
      usage: r.int(dir, 'memory.usage_in_bytes'),
      limit: r.limit(dir, 'memory.limit_in_bytes'),
      maxUsage: r.int(dir, 'memory.max_usage_in_bytes'),
      failcnt: r.int(dir, 'memory.failcnt'),
      memswUsage: r.int(dir, 'memory.memsw.usage_in_bytes'),
    };
    const oom = r.keyedValues(dir, 'memory.oom_control', OOM_CONTROL);
    m.oomKill = oom?.[0];
    m.underOom = oom?.[1];
    const stat = r.picked(dir, 'memory.stat', V1_STAT);
    if (stat) m.stat = stat;
    s.memory = defined(compact(m));
  },

  readV2(r, dir, s) {
    const m: V2MemoryStats = {
      current: r.int(dir, 'memory.current'),
      max: r.limit(dir, 'memory.max'),
      peak: r.int(dir, 'memory.peak'),
      swapCurrent: r.int(dir, 'memory.swap.current'),
      swapMax: r.limit(dir, 'memory.swap.max'),
    };
    const ev = r.keyedValues(dir, 'memory.events', EVENTS);
    if (ev) m.events = compact({ low: ev[0], high: ev[1], max: ev[2], oom: ev[3], oomKill: ev[4] });
    const stat = r.picked(dir, 'memory.stat', V2_STAT);
    if (stat) m.stat = stat;
    s.memory = defined(compact(m));
  },
};
