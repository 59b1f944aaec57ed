import type { CpuSplit } from './cpu-split.ts';
import type { KeptFiles } from './kept-files.ts';

/**
 * Per-task memory between reads: files found absent while their directory existed (a kernel
 * without memsw or memory.peak, the blkio files of an unused I/O scheduler) are not tried
 * again, and hugetlb page sizes are listed once.
 */
export interface ReadState {
  /** Full paths of the files found absent. */
  absent: Set<string>;
  /** Their base names: a cheap first test (literal names hash once; fresh paths would hash at every read). */
  absentNames?: string[];
  /** v1: the last CPU split by mode (see cpu-split.ts), so that both modes only grow. */
  cpuSplit?: CpuSplit;
  hugetlbSizes?: string[];
  /** The task's files kept open between reads, once the engine's file budget admitted it. */
  kept?: KeptFiles;
}

export function newReadState(): ReadState {
  return { absent: new Set() };
}
