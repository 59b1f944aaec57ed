import { parsePressure } from '../parse/pressure.ts';
import type { Reading } from '../reading.ts';
import type { PressureStats } from '../types.ts';
import type { Controller } from './controller.ts';

const PRESSURE_FILES = [
  ['cpu', 'cpu.pressure'],
  ['memory', 'memory.pressure'],
  ['io', 'io.pressure'],
] as const;

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
  const out: PressureStats = {};
  let any = false;
  for (const [resource, name] of PRESSURE_FILES) {
    const t = r.text(dir, name);
    if (t === undefined) continue;
    const p = parsePressure(t, r);
    if (r.rangeChecked(dir, name) && !p.some && !p.full) continue;
    if (!p.some && !p.full) {
      r.parseError(dir, name, 'no some/full line');
      continue;
    }
    out[resource] = p;
    any = true;
  }
  return any ? out : undefined;
}
