import { pressureBytes } from '../parse/bytes.ts';
import type { Reading } from '../reading.ts';
import type { PressureStats, PsiStats } from '../types.ts';
import type { Controller } from './controller.ts';

/**
 * Pressure stall information: cgroup2 only, so on a v1 host it comes from the task's cgroup2
 * twin (`cg.unified`, hybrid hosts) when there is one.
 */
export const pressureController: Controller = {
  groups: ['pressure'],

  readV1(r, cg, s) {
    if (cg.unified) s.pressure = readPressure(r, cg.unified);
  },

  readV2(r, dir, s) {
    s.pressure = readPressure(r, dir);
  },
};

function readPressure(r: Reading, dir: string): PressureStats | undefined {
  const cpu = readPsi(r, dir, 'cpu.pressure');
  const memory = readPsi(r, dir, 'memory.pressure');
  const io = readPsi(r, dir, 'io.pressure');
  if (cpu === undefined && memory === undefined && io === undefined) return undefined;
  const out: PressureStats = {};
  if (cpu !== undefined) out.cpu = cpu;
  if (memory !== undefined) out.memory = memory;
  if (io !== undefined) out.io = io;
  return out;
}

/** One PSI file: undefined when absent, unreadable or without a some/full line (an error). */
function readPsi(r: Reading, dir: string, name: string): PsiStats | undefined {
  const n = r.raw(dir, name);
  if (n < 0) return undefined;
  const p = pressureBytes(r.bytes, r.at, r.at + n, r);
  if (r.rangeChecked(dir, name) && !p.some && !p.full) return undefined;
  if (!p.some && !p.full) {
    r.parseError(dir, name, 'no some/full line');
    return undefined;
  }
  return p;
}
