import type { Controller } from './controller.ts';
import { cpuController } from './cpu.ts';
import { diskController } from './disk.ts';
import { hugetlbController } from './hugetlb.ts';
import { memoryController } from './memory.ts';
import { networkController } from './network.ts';
import { pidsController } from './pids.ts';
import { pressureController } from './pressure.ts';

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
];
