/**
 * Stopping long work cleanly. A signal handler can only run when the event loop turns, and training
 * or feature extraction are long runs of synchronous tensor work: so they call `checkpoint()` between
 * batches, which yields to the event loop every `YIELD_MS` (a macrotask: setImmediate) and throws
 * `Interrupted` once a stop was requested. Whatever was written before (checkpoints, cache entries,
 * results) is written atomically, so it stays whole and a rerun resumes from it.
 */
import { Interrupted } from './errors.js';

const YIELD_MS = 50;
let requested: 'SIGINT' | 'SIGTERM' | null = null;
let lastYield = 0;

/** Asks running work to stop at its next checkpoint (the CLI's signal handlers call this). */
export function requestStop(signal: 'SIGINT' | 'SIGTERM'): void {
  requested ??= signal;
}

/** The signal a stop was requested with, or null. */
export function stopRequested(): 'SIGINT' | 'SIGTERM' | null {
  return requested;
}

/** Forgets a stop request (tests; a library user that wants to run again in the same process). */
export function clearStop(): void {
  requested = null;
}

/** Throws Interrupted if a stop was requested (a synchronous check, for loops that cannot await). */
export function throwIfStopped(): void {
  if (requested) throw new Interrupted(requested);
}

/**
 * Lets the event loop turn (at most every YIELD_MS, so it costs little in a loop over batches) and
 * throws Interrupted if a stop was requested.
 */
export async function checkpoint(): Promise<void> {
  const now = performance.now();
  if (now - lastYield >= YIELD_MS) {
    lastYield = now;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  throwIfStopped();
}
