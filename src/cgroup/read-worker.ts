/**
 * The reading thread's entry (see thread-reader.ts): it holds the tasks' read state (kept files,
 * the v1 CPU split, network namespaces) and runs readStats for the main thread. One port, in
 * order: add, attach, end, release, one (a single read) and cycle (many, by a deadline). During
 * a cycle the port is polled between slices, so a final read waits at most one slice. Before
 * each task the shared progress words say which task is being read: the main thread tells a
 * reader stuck in the kernel from a slow one by them.
 */
import { isMainThread, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { FileBudget } from './kept-files.ts';
import { hostNetns } from './netns.ts';
import { endReadState, newReadState, type ReadState } from './read.ts';
import { PROGRESS_DONE, PROGRESS_INC, PROGRESS_RETIRE, type FromReader, type ReadItem, type ReaderData, type ToReader } from './read-protocol.ts';
import { readOne as readWith, type OneReadOptions } from './read-one.ts';
import type { TaskCgroup } from './types.ts';

function main(): void {
  const data = workerData as ReaderData;
  const port = data.port;
  const ctl = new Int32Array(data.progress);
  const groups = new Set(data.groups);
  const keep = data.keepLimit > 0 ? new FileBudget(data.keepLimit) : undefined;
  const netns = data.network ? hostNetns() : undefined;
  const tasks = new Map<number, { cgroup: TaskCgroup; state: ReadState }>();
  const cycles: Array<Extract<ToReader, { t: 'cycle' }>> = [];
  let lastInc = 0;

  const readOne = (inc: number, how?: OneReadOptions): ReadItem => {
    const t = tasks.get(inc);
    if (!t) return [inc, null, undefined];
    lastInc = inc;
    Atomics.store(ctl, PROGRESS_INC, inc);
    const r = readWith(t.cgroup, groups, t.state, { keep, netns }, how);
    Atomics.store(ctl, PROGRESS_INC, 0);
    Atomics.add(ctl, PROGRESS_DONE, 1);
    if (Atomics.load(ctl, PROGRESS_RETIRE) === 1) retire();
    return [inc, r, t.state.cpuSplit];
  };

  /** Abandoned while stuck, now back: every kept file closes, and the thread ends. */
  const retire = (): never => {
    for (const t of tasks.values()) endReadState(t.state);
    port.postMessage({ t: 'retired', inc: lastInc } satisfies FromReader);
    port.close();
    process.exit(0);
  };

  const handle = (m: ToReader): void => {
    switch (m.t) {
      case 'add': {
        const state = newReadState();
        if (m.split) state.cpuSplit = m.split;
        tasks.set(m.inc, { cgroup: m.cgroup, state });
        break;
      }
      case 'attach': {
        const t = tasks.get(m.inc);
        if (t) t.cgroup = m.cgroup;
        break;
      }
      case 'end': {
        const t = tasks.get(m.inc);
        if (t) endReadState(t.state);
        tasks.delete(m.inc);
        break;
      }
      case 'release':
        tasks.get(m.inc)?.state.kept?.release();
        break;
      case 'one':
        port.postMessage({ t: 'one', seq: m.seq, item: readOne(m.inc, m) } satisfies FromReader);
        break;
      case 'cycle':
        cycles.push(m);
        break;
    }
  };

  const runCycle = (c: Extract<ToReader, { t: 'cycle' }>): void => {
    const start = performance.now();
    let sliceStart = start;
    let items: ReadItem[] = [];
    let i = 0;
    for (; i < c.incs.length; i++) {
      if (Date.now() >= c.deadlineEpochMs) break;
      if (performance.now() - sliceStart >= data.sliceMs) {
        // A slice's readings go out, and what waits on the port (a final read) is served.
        port.postMessage({ t: 'chunk', seq: c.seq, items } satisfies FromReader);
        items = [];
        for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) handle(m.message as ToReader);
        sliceStart = performance.now();
      }
      items.push(readOne(c.incs[i] as number));
    }
    const kept = { open: keep?.open ?? 0, limit: keep?.limit ?? 0, tasks: keep?.tasks ?? 0 };
    port.postMessage({ t: 'done', seq: c.seq, items, timedOut: c.incs.length - i, durationMs: performance.now() - start, kept } satisfies FromReader);
  };

  port.on('message', (m: ToReader) => {
    handle(m);
    while (cycles.length > 0) runCycle(cycles.shift() as Extract<ToReader, { t: 'cycle' }>);
  });
}

// Imported on the main thread too (by a bundler, a type check): it runs only as a worker.
if (!isMainThread) main();
