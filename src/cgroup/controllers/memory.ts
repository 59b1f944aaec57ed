import { compact, defined } from '../compact.ts';
import { V1_MEMORY_STAT_KEYS, V2_MEMORY_STAT_KEYS, type V1MemoryStats, type V2MemoryStats } from '../types.ts';
import type { Controller } from './controller.ts';

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
    const oom = r.keyed(dir, 'memory.oom_control');
    m.oomKill = oom?.get('oom_kill');
    m.underOom = oom?.get('under_oom');
    const stat = r.picked(dir, 'memory.stat', V1_MEMORY_STAT_KEYS);
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
    const ev = r.keyed(dir, 'memory.events');
    if (ev) m.events = compact({ low: ev.get('low'), high: ev.get('high'), max: ev.get('max'), oom: ev.get('oom'), oomKill: ev.get('oom_kill') });
    const stat = r.picked(dir, 'memory.stat', V2_MEMORY_STAT_KEYS);
    if (stat) m.stat = stat;
    s.memory = defined(compact(m));
  },
};
