// What every runner provides for a workload: a forward pass to time, and its output for checking.

import type { Workload } from '../workloads.js';

export interface Prepared {
  /** One forward pass over the whole input (the timed part); resolves when the result is readable. */
  run(): Promise<void> | void;
  /** The output to compare with recur js: `[T, B, D*H]` time-major, or `[B, H]` for `compare: 'last'`. */
  output(): Promise<Float32Array>;
  /** 'sequence' compares the whole output; 'last' compares the last layer's final hidden state. */
  compare: 'sequence' | 'last';
  /** A note for the table, e.g. why outputs cannot match. */
  note?: string;
  dispose?(): void;
}

export interface Runner {
  name: string;
  /** Null when this runner cannot express the workload at all (reason in `skip`). */
  prepare(w: Workload): Promise<Prepared | null>;
  skip?(w: Workload): string | null;
  version(): string;
}
