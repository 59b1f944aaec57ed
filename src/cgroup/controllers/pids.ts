import { compact, defined } from '../compact.ts';
import type { PidsStats } from '../types.ts';
import type { Reading } from '../reading.ts';
import type { Controller } from './controller.ts';

/** pids: pids.current and pids.max, the same files under v1 and v2. */
export const pidsController: Controller = {
  groups: ['pids'],

  readV1(r, cg, s) {
    if (cg.dirs.pids) s.pids = readPids(r, cg.dirs.pids);
  },

  readV2(r, dir, s) {
    s.pids = readPids(r, dir);
  },
};

function readPids(r: Reading, dir: string): PidsStats | undefined {
  return defined(compact({ current: r.int(dir, 'pids.current'), max: r.limit(dir, 'pids.max') }));
}
