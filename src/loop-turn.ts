import { setImmediate } from 'node:timers/promises';

/**
 * Yields to the event loop so that timers, I/O and other work run before the caller goes on:
 * the one way sliced work (reads, point building, serialization, final reads) gives the loop
 * back. Two immediates, not one: an immediate queued in the poll phase (the continuation of an
 * I/O callback, a message from the reading thread) runs in the same loop iteration's check
 * phase, before any timer, so one would let two slices run back to back (a 1 ms timer saw
 * 2 × 5 ms: bench:read-cycle's ticker gap against its histogram). The second immediate is
 * queued from the check phase and runs a full iteration later.
 */
export async function nextLoopTurn(): Promise<void> {
  await setImmediate();
  await setImmediate();
}
