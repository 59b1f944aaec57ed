import type { CgroupStats } from '../cgroup/types.ts';
import { FinalQueue, type QueueConsumer } from './final-queue.ts';
import type { FinalReading, FinalSource, FinalSourceCounts, LastKnownSource } from './snapshot.ts';
import type { Task } from './task.ts';

export interface StopResult {
  /** `read`: read at stop; `last-known`: the cgroup was gone, the last reading taken before was queued; `none`: nothing to queue. */
  source: FinalSource;
  /** For `last-known`: whether that reading was a young-task reading (the first one at add() included) or a collection's. */
  lastKnown?: LastKnownSource;
  /** When the queued reading was taken (ms since the epoch); absent for `none`. */
  timeMs?: number;
  stats?: CgroupStats;
}

/**
 * Stopped tasks' final readings on their way to every consumer: the bounded queue, and the
 * count of final reads that found the cgroup already gone.
 */
export class FinalReadings {
  private readonly queue: FinalQueue<FinalReading>;
  /** Stopped tasks whose cgroup was gone before the final read. */
  private missedCount = 0;
  private readonly sources = { read: 0, young: 0, periodic: 0, none: 0 };

  constructor(capacity: number) {
    this.queue = new FinalQueue(capacity);
  }

  get pending(): number {
    return this.queue.size;
  }

  get dropped(): number {
    return this.queue.dropped;
  }

  get missed(): number {
    return this.missedCount;
  }

  /** Stops since start by where their final reading came from: a copy. */
  get sourceCounts(): FinalSourceCounts {
    return { ...this.sources };
  }

  /** A new consumer: it gets every reading still pending and every one queued from now on. */
  open(): QueueConsumer {
    return this.queue.register();
  }

  close(consumer: QueueConsumer): void {
    this.queue.unregister(consumer);
  }

  /** Queues a reading taken at stop. */
  queueRead(task: Task, stats: CgroupStats, timeMs: number): StopResult {
    this.queue.push({ task, stats, timeMs, source: 'read' });
    this.sources.read++;
    return { source: 'read', timeMs, stats };
  }

  /** The cgroup is gone: counts a missed final read and queues the task's last reading (young or periodic), if it has one. */
  queueLastKnown(task: Task): StopResult {
    this.missedCount++;
    const stats = task.lastStats;
    const lastKnown = task.lastSource;
    if (!stats || !lastKnown) {
      this.sources.none++;
      return { source: 'none' };
    }
    this.sources[lastKnown]++;
    this.queue.push({ task, stats, timeMs: task.lastTimeMs, source: 'last-known' });
    return { source: 'last-known', lastKnown, timeMs: task.lastTimeMs, stats };
  }

  /**
   * This consumer's unacknowledged final readings, oldest first, at most one per (namespace,
   * id): two incarnations of one id in one collection would be duplicate series, so the later
   * one waits for a later take. Nothing is acknowledged: the same readings come again until
   * acknowledge(consumer, seq) with the returned `seq`.
   */
  peek(consumer: QueueConsumer): { finals: FinalReading[]; seq: number } {
    const finals: FinalReading[] = [];
    const keys = new Set<string>();
    const seq = this.queue.peek(consumer, (f) => {
      if (keys.has(f.task.key)) return false;
      keys.add(f.task.key);
      finals.push(f);
      return true;
    });
    return { finals, seq };
  }

  /** Marks what a peek up to `seq` returned as delivered to `consumer`; an older `seq` than one already acknowledged changes nothing. */
  acknowledge(consumer: QueueConsumer, seq: number): void {
    this.queue.advance(consumer, seq);
  }

  /** Final readings still queued that `consumer` has not acknowledged. */
  pendingFor(consumer: QueueConsumer): number {
    return this.queue.pendingFor(consumer);
  }

  /** peek() and acknowledge() at once: for a consumer that counts a take as delivered. */
  take(consumer: QueueConsumer): FinalReading[] {
    const { finals, seq } = this.peek(consumer);
    this.acknowledge(consumer, seq);
    return finals;
  }
}
