// How a wasm backend's threads ran, in words for the status lines and the benchmark's table: the
// thread count, and why threads are off where they are (the backend's own reason, shown as text).

import type { ThreadsReport } from './protocol.js';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The threads a backend runs large calls on, and why not more: "2 threads", "1 thread (threads are off: ...)". */
export function threadsAvailable(t: ThreadsReport): string {
  if (t.active > 1) return plural(t.active, 'thread');
  return t.reason ? `1 thread (${t.reason})` : '1 thread';
}

/** The threads one forward ran on: its layer calls large enough to split went to all threads, the others stayed on one. */
export function threadsRan(t: ThreadsReport): string {
  const calls = t.threadedCalls + t.singleCalls;
  if (t.active <= 1) return `on ${threadsAvailable(t)}`;
  if (t.threadedCalls === 0) return `on 1 of ${t.active} threads (its ${plural(calls, 'layer call')} too small to split)`;
  if (t.singleCalls === 0) return `on ${t.active} threads`;
  return `on ${t.active} threads for ${t.threadedCalls} of ${plural(calls, 'layer call')} (the others too small to split)`;
}

/** Most threads one forward's layer calls ran on. */
export const threadsUsed = (t: ThreadsReport): number => (t.threadedCalls > 0 ? t.active : 1);
