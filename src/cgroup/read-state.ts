import type { CpuSplit } from './cpu-split.ts';
import type { KeptFiles } from './kept-files.ts';
import type { NetnsRegistry } from './netns.ts';

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
  /**
   * Its network namespace, once found: the host's since `hostSince` (no network series), or the
   * namespace's inode, the /proc/<pid>/net directory read for it and the registry that decides its owner.
   */
  net?: { hostSince: number } | { ino: number; dir: string; registry: NetnsRegistry };
  /** The task has ended: its files are closed, its namespace released (see endReadState). */
  ended?: boolean;
}

/**
 * The task has ended (final reading taken, or removed): its kept files close at once and its
 * network namespace goes to the next task in it. Later reads (a collection still in flight)
 * open/read/close and keep nothing.
 */
export function endReadState(state: ReadState): void {
  if (state.ended) return;
  state.ended = true;
  state.kept?.retire();
  if (state.net && 'ino' in state.net) state.net.registry.release(state.net.ino, state);
}

export function newReadState(): ReadState {
  return { absent: new Set() };
}
