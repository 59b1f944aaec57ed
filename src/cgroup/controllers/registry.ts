import type { Controller } from './controller.ts';
import { cpuController } from './cpu.ts';
import { diskController } from './disk.ts';
import { hugetlbController } from './hugetlb.ts';
import { memoryController } from './memory.ts';
import { networkController } from './network.ts';
import { pidsController } from './pids.ts';
import { pressureController } from './pressure.ts';

/**
 * The stats object the readers last filled, kept alive: readStats builds one per reading and
 * each reader adds its field, so its hidden classes (one per field added) are reached only
 * weakly once the reading is done, and a full GC with none alive drops them and, with them, the
 * optimized code of every reader that stores into it ("weak objects" deoptimizations, at every
 * round of bench:read-cycle, which collects between rounds). Holding the last one keeps its
 * chain of hidden classes; it holds nothing else of a task but that task's last stats.
 */
export const STATS_SHAPE: { last?: object } = {};

function keepingShape(c: Controller): Controller {
  return {
    groups: c.groups,
    readV1(r, cg, s, groups) {
      STATS_SHAPE.last = s;
      c.readV1(r, cg, s, groups);
    },
    readV2(r, dir, s, groups) {
      STATS_SHAPE.last = s;
      c.readV2(r, dir, s, groups);
    },
  };
}

/**
 * Every controller reader, in the order they read and their groups appear in a reading. A new
 * controller is one module beside these and one entry here.
 */
export const CONTROLLERS: readonly Controller[] = [
  cpuController,
  memoryController,
  diskController,
  pidsController,
  hugetlbController,
  pressureController,
  networkController,
].map(keepingShape);
