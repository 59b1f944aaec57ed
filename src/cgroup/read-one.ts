import { CapturedReader, type CapturedFiles, RecordingReader } from './captured.ts';
import { readStats, type ReadOptions, type ReadState } from './read.ts';
import type { MetricGroup, ReadResult, TaskCgroup } from './types.ts';

/**
 * How one read is taken: `record` notes the cgroup files it read (ReadResult.files: what the
 * events thread captures at `populated 0`); `captured` serves those files as captured then.
 */
export interface OneReadOptions {
  record?: boolean;
  captured?: CapturedFiles;
}

const recorder = new RecordingReader();

/** readStats for TaskReader.one, on whichever thread reads (task-reader.ts, read-worker.ts): recording, or from captured files. */
export function readOne(cgroup: TaskCgroup, groups: ReadonlySet<MetricGroup>, state: ReadState, options: ReadOptions, how?: OneReadOptions): ReadResult {
  if (how?.captured) {
    const r = readStats(cgroup, groups, state, { ...options, reader: new CapturedReader(how.captured.files) });
    r.timeMs = Math.floor(how.captured.wakeMs); // the values are the cgroup's at the capture
    return r;
  }
  if (!how?.record) return readStats(cgroup, groups, state, options);
  recorder.take();
  const r = readStats(cgroup, groups, state, { ...options, reader: recorder });
  r.files = recorder.take();
  return r;
}
