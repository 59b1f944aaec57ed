import * as fs from 'node:fs';

/**
 * Network namespaces as the tasks see them: which one is the host's (its tasks export no
 * network series: those counters are the node's), and which task owns each of the others.
 * Containers of one pod (or `--network container:X`) share one namespace: its counters go to
 * one task only, the first to read it, so that a sum over tasks counts each namespace once;
 * when the owner ends (its final reading carries the counters), the next task of that
 * namespace to be read takes it over.
 */
/** Who can own a namespace: a task's read state (ended once its task has). */
export interface NetnsOwner {
  readonly ended?: boolean;
}

export class NetnsRegistry {
  private readonly owners = new Map<number, NetnsOwner>();
  private hostIno: number | undefined | null = null;

  constructor(
    /** /proc, or a copy of it (tests). */
    readonly procRoot = '/proc',
  ) {}

  /** The inode of the host's network namespace: pid 1's, else this process's own. */
  get host(): number | undefined {
    if (this.hostIno === null) this.hostIno = inodeOf(`${this.procRoot}/1/ns/net`) ?? inodeOf(`${this.procRoot}/self/ns/net`);
    return this.hostIno;
  }

  /** Whether `state`'s task owns namespace `ino` now (claiming it when its owner has ended, or it has none). */
  claim(ino: number, state: NetnsOwner): boolean {
    const owner = this.owners.get(ino);
    if (owner === state) return true;
    if (owner && !owner.ended) return false;
    this.owners.set(ino, state);
    return true;
  }

  /** The task of `state` has ended: the namespace is free for the next one. */
  release(ino: number, state: NetnsOwner): void {
    if (this.owners.get(ino) === state) this.owners.delete(ino);
  }
}

/** The inode of a namespace file (`/proc/<pid>/ns/net`), or undefined when it cannot be seen. */
export function inodeOf(file: string): number | undefined {
  try {
    return fs.statSync(file).ino;
  } catch {
    return undefined;
  }
}

let processNetns: NetnsRegistry | undefined;

/** The registry of this process's engines on the host's /proc (one namespace, one owner, whichever engine reads it). */
export function hostNetns(): NetnsRegistry {
  processNetns ??= new NetnsRegistry();
  return processNetns;
}
