// What every runner provides for a workload: a forward pass to time, and its output for checking;
// runners that train also provide a training step.

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
  /**
   * Threaded recur runners: switches the same model to one thread (1) or back to the runner's threads
   * (2), outside the timer, so the runner can also time both alternately in one process (runner.ts).
   */
  useThreads?(n: 1 | 2): Promise<void>;
  dispose?(): void;
}

/** A model set up to train on a training workload (`w.train`): the recurrent layer, a `Linear(H, 1)` head, MSE, Adam. */
export interface PreparedTraining {
  /**
   * One training step over the whole input (the timed part): per chunk, forward, loss, backward and
   * an Adam update, the state carried detached into the next chunk; resolves when the losses are read.
   */
  run(): Promise<void> | void;
  /** The loss of every optimizer step so far, in order. */
  losses(): number[];
  note?: string;
  dispose?(): void;
}

export interface Runner {
  name: string;
  /** Null when this runner cannot express the workload at all (reason in `skip`). */
  prepare(w: Workload): Promise<Prepared | null>;
  /** Absent for runners that only run inference: their training cells are skipped. */
  prepareTraining?(w: Workload): Promise<PreparedTraining>;
  skip?(w: Workload): string | null;
  version(): string;
}
