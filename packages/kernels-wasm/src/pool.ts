// The worker pool of a threaded wasm backend: N - 1 workers (worker_threads in Node, Web Workers in
// browsers) instantiate the same kernels over the same shared memory and wait, spinning briefly and
// then in Atomics.wait, for the calling thread to publish a call in the control block. The caller is
// thread 0: it runs its share too and returns when every worker has left the kernel. A failure on any
// thread aborts the call on all of them (they leave at their next barrier) and reaches the caller as a
// BackendError; the pool stays usable. A worker that dies or does not start makes the pool `broken`
// with the reason, and the backend runs on one thread from then on: never a deadlock.
//
// The workers are started from an inline script (a blob URL in browsers, `eval` in Node), so no file
// path or bundler configuration is involved, and are unref'd in Node so a script exits by itself.

import { BackendError } from '@recur/core-tensor';
import { type ScriptWorker, coreCount, startWorker, withTimeout } from './env.js';
import type { KernelExports } from './module.js';
import type { WasmRuntime } from './runtime.js';

/** i32 slots of the control block (256 bytes for the kernels' barrier, assembly/threads.ts, then ours). */
const COUNT = 0;
const GEN = 16;
const ABORT = 32;
/** The call sequence number: bumped to publish a call. */
const SEQ = 64;
/** Workers asleep in Atomics.wait on SEQ. */
const WORKER_SLEEPERS = 80;
/** Workers done with the current call. */
const DONE = 96;
/** The call: descriptor pointer, threads taking part, command, exit flag. */
const DESC = 112;
const NT = 113;
const CMD = 114;
const EXIT = 115;
const ROUNDS = 116;
/** A pair of calls (CMD_TEAMS): the second team's descriptor, and its first thread. */
const DESC2 = 119;
const SPLIT = 120;
/** Non-zero while the calling thread sleeps in Atomics.wait for DONE (workers notify only then). */
const CALLER_SLEEPING = 118;
/** Bytes of the failing thread's error message (UTF-8, at MESSAGE * 4, at most MESSAGE_BYTES). */
const MESSAGE_LENGTH = 117;
const MESSAGE = 128;
const MESSAGE_BYTES = 256;
/** Bytes of the control block. */
export const CONTROL_BYTES = MESSAGE * 4 + MESSAGE_BYTES;

/** Commands a call runs: a layer (runLayer) or the start-up barrier measurement (spinBarriers). */
const CMD_LAYER = 0;
const CMD_BARRIERS = 1;
const CMD_TEAMS = 2;

/** Waiting for the workers longer than this means one died mid-call. */
const CALL_TIMEOUT_MS = 15_000;
/** Waiting for the workers to start longer than this means they cannot. */
const START_TIMEOUT_MS = 15_000;

/**
 * The worker's script: runs in Node (`eval`, CommonJS or ES module) and in browsers (classic worker from a blob).
 * After the kernels are instantiated it posts 'ready', then serves calls until EXIT; a failure inside a
 * kernel sets ABORT (so the other threads leave their barrier) and stores the message for the caller.
 */
const WORKER_SOURCE = `'use strict';
let post;
const serve = ({ module, memory, ctl, tid, spins, barrierSpins }) => {
  let k;
  try {
    k = new WebAssembly.Instance(module, { env: { memory } }).exports;
    k.setSpins(barrierSpins);
  } catch (e) {
    post({ failed: String(e && e.message || e) });
    return;
  }
  const w = new Int32Array(memory.buffer, ctl, ${CONTROL_BYTES / 4});
  const w2 = new Int32Array(memory.buffer, ctl + ${CONTROL_BYTES}, ${CONTROL_BYTES / 4});
  let seq = Atomics.load(w, ${SEQ});
  post({ ready: tid });
  for (;;) {
    let n = 0;
    while (Atomics.load(w, ${SEQ}) === seq) {
      if (++n < spins) continue;
      Atomics.add(w, ${WORKER_SLEEPERS}, 1);
      Atomics.wait(w, ${SEQ}, seq);
      Atomics.sub(w, ${WORKER_SLEEPERS}, 1);
      n = 0;
    }
    seq = Atomics.load(w, ${SEQ});
    if (Atomics.load(w, ${EXIT}) !== 0) break;
    if (tid < Atomics.load(w, ${NT})) {
      try {
        const cmd = Atomics.load(w, ${CMD});
        const split = Atomics.load(w, ${SPLIT});
        if (cmd === ${CMD_BARRIERS}) k.spinBarriers(ctl, Atomics.load(w, ${NT}), Atomics.load(w, ${ROUNDS}));
        else if (cmd === ${CMD_TEAMS} && tid >= split) k.runLayer(Atomics.load(w, ${DESC2}), tid - split);
        else k.runLayer(Atomics.load(w, ${DESC}), tid);
      } catch (e) {
        if (Atomics.compareExchange(w, ${ABORT}, 0, 1) === 0) {
          const bytes = new TextEncoder().encode('thread ' + tid + ': ' + (e && e.message || e)).slice(0, ${MESSAGE_BYTES});
          new Uint8Array(memory.buffer, ctl + ${MESSAGE * 4}, bytes.length).set(bytes);
          Atomics.store(w, ${MESSAGE_LENGTH}, bytes.length);
        }
        Atomics.notify(w, ${GEN});
        // The second team's barrier too (its control block follows this one).
        Atomics.store(w2, ${ABORT}, 1);
        Atomics.notify(w2, ${GEN});
      }
    }
    Atomics.add(w, ${DONE}, 1);
    if (Atomics.load(w, ${CALLER_SLEEPING}) !== 0) Atomics.notify(w, ${DONE});
  }
  post({ exited: tid });
};
// import() works in Node's CommonJS and ES module evaluation alike (a worker inherits --input-type).
if (typeof self === 'undefined') {
  import('node:worker_threads').then(({ parentPort }) => {
    post = (m) => parentPort.postMessage(m);
    parentPort.once('message', serve);
  });
} else {
  post = (m) => self.postMessage(m);
  self.onmessage = (e) => { self.onmessage = null; serve(e.data); };
}
`;

/** The pool's measurements at start-up, for the backend's cost model. */
export interface PoolTimings {
  /** One barrier among all threads, in nanoseconds. */
  barrierNs: number;
  /** Publishing a call, waking the (spinning) workers and joining them, in nanoseconds. */
  callNs: number;
}

/**
 * How long threads spin before they sleep, as loop iterations: an idle worker waiting for the next call
 * (roughly a millisecond, so streamed frames find it awake), a thread at a barrier inside a call (set
 * in each thread's kernels with setSpins) and the caller joining the workers at the end of a call.
 * A pool with more threads than the machine has cores spins hardly at all: the thread being waited
 * for is then often not running, and a spinning thread keeps it off the core (3 threads on 2 cores
 * spinning like 2 made a streamed frame take milliseconds instead of microseconds).
 */
const SPINS = { idle: 1 << 19, barrier: 1 << 16, join: 1 << 14 };
const OVERSUBSCRIBED_SPINS = { idle: 1 << 8, barrier: 1 << 6, join: 1 << 8 };

let pools = 0;

export class ThreadPool {
  /** This pool's number (from 1), which outlives no reference to it (WasmPreparedWeights.split). */
  readonly id = ++pools;
  /** Non-null once the pool cannot be used: the reason, in words a user can act on. */
  broken: string | null = null;
  timings: PoolTimings = { barrierNs: 0, callNs: 0 };
  readonly #workers: ScriptWorker[] = [];
  readonly #w: Int32Array;
  /** The second team's control block (a pair of calls side by side), right after the pool's. */
  readonly #w2: Int32Array;
  #running = false;

  private constructor(
    readonly size: number,
    readonly memory: WebAssembly.Memory,
    readonly ctl: number,
    private readonly kernels: KernelExports,
    /** Loop iterations before a wait (SPINS, or OVERSUBSCRIBED_SPINS with more threads than cores). */
    readonly spins: { idle: number; barrier: number; join: number },
  ) {
    this.#w = new Int32Array(memory.buffer, ctl, CONTROL_BYTES / 4);
    this.#w2 = new Int32Array(memory.buffer, ctl + CONTROL_BYTES, CONTROL_BYTES / 4);
  }

  /**
   * Starts `size - 1` workers on `module` over the shared `memory`, with the control block at `ctl`
   * (CONTROL_BYTES, zeroed), waits for them and measures the barrier and call costs. Rejects with the
   * reason if workers cannot start here.
   */
  static async start(
    size: number,
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
    ctl: number,
    kernels: KernelExports,
    cores: number,
  ): Promise<ThreadPool> {
    const pool = new ThreadPool(size, memory, ctl, kernels, size > cores ? OVERSUBSCRIBED_SPINS : SPINS);
    kernels.setSpins(pool.spins.barrier);
    try {
      const started: Array<Promise<void>> = [];
      for (let tid = 1; tid < size; tid++) {
        started.push(
          new Promise<void>((resolve, reject) => {
            let worker: ScriptWorker | null = null;
            const onMessage = (message: unknown) => {
              const m = message as { ready?: number; failed?: string };
              if (m.ready !== undefined) {
                // Started: from now on the worker must not keep a Node process alive.
                worker?.unref();
                resolve();
              } else if (m.failed !== undefined) reject(new Error(`worker ${tid} could not instantiate the kernels: ${m.failed}`));
            };
            const onError = (error: string) => {
              const reason = `worker ${tid} failed: ${error}`;
              reject(new Error(reason));
              pool.broken ??= reason;
              pool.abortRunning();
            };
            // Rejects on a failure to start the worker, or to post it the kernels (a memory that is not
            // shared cannot be sent).
            startWorker(WORKER_SOURCE, onMessage, onError)
              .then((w) => {
                // The pool gave up meanwhile (another worker failed, or the time ran out).
                if (pool.broken) return w.terminate();
                worker = w;
                pool.#workers.push(w);
                w.post({ module, memory, ctl, tid, spins: pool.spins.idle, barrierSpins: pool.spins.barrier });
              })
              .catch(reject);
          }),
        );
      }
      await withTimeout(Promise.all(started), START_TIMEOUT_MS, `the workers did not start within ${START_TIMEOUT_MS / 1000} s`);
      pool.measure();
      return pool;
    } catch (error) {
      pool.dispose();
      throw error;
    }
  }

  /**
   * Measures an empty call and a barrier (the cost model's overheads), after a warm-up that lets the
   * engine optimise both sides' loops: medians of a few batches, about 3 ms in all. Noise (another
   * process on the cores) only makes them larger, so a later measurement keeps the smaller values.
   */
  private measure(warmUp = 300, batches = 5): void {
    const now = () => performance.now();
    for (let i = 0; i < warmUp; i++) this.call(CMD_BARRIERS, 0, this.size, 4);
    // Preallocated: a remeasure runs between streamed frames, whose path allocates nothing.
    const calls = this.#samples[0]!;
    const barriers = this.#samples[1]!;
    const batch = 100;
    const rounds = 1000;
    for (let i = 0; i < batches; i++) {
      let t = now();
      for (let j = 0; j < batch; j++) this.call(CMD_BARRIERS, 0, this.size, 0);
      const call = ((now() - t) * 1e6) / batch;
      calls[i] = call;
      t = now();
      this.call(CMD_BARRIERS, 0, this.size, rounds);
      barriers[i] = ((now() - t) * 1e6 - call) / rounds;
    }
    const barrierNs = Math.max(0, median(barriers, batches));
    const callNs = median(calls, batches);
    const t = this.timings;
    if (this.measuredAt === 0) {
      t.barrierNs = barrierNs;
      t.callNs = callNs;
    } else {
      t.barrierNs = Math.min(t.barrierNs, barrierNs);
      t.callNs = Math.min(t.callNs, callNs);
    }
    this.measuredAt = now();
  }

  readonly #samples = [new Float64Array(8), new Float64Array(8)];

  /** When the timings were last measured (performance.now()). */
  measuredAt = 0;

  /**
   * Measures again (about 0.5 ms) if the last measurement is over a second old: the cost model calls
   * this before keeping a call that nearly pays on one thread, so a busy moment at start-up does not
   * turn threads off for good.
   */
  remeasure(): boolean {
    if (this.broken || performance.now() - this.measuredAt < 1000) return false;
    this.measure(20, 3);
    return true;
  }

  /**
   * Runs `runLayer(desc, tid)` on threads 0..nt-1 (this thread is 0). `beforeOwn`, if given, runs on
   * this thread once the others have been started, before its own share (whose tasks the others take
   * meanwhile). Throws BackendError on failure.
   */
  runLayer(desc: number, nt: number, beforeOwn: (() => void) | null = null): void {
    this.call(CMD_LAYER, desc, nt, 0, beforeOwn);
  }

  /**
   * Two calls side by side: threads 0..split-1 run `desc` (this thread is 0), the others `desc2`, each
   * team with the barrier named in its descriptor (the second team's control block follows the
   * pool's). Throws BackendError on failure.
   */
  runTeams(desc: number, desc2: number, split: number): void {
    Atomics.store(this.#w, DESC2, desc2);
    Atomics.store(this.#w, SPLIT, split);
    this.call(CMD_TEAMS, desc, this.size, 0);
  }

  private call(cmd: number, desc: number, nt: number, rounds: number, beforeOwn: (() => void) | null = null): void {
    if (this.broken) throw new BackendError(`wasm threads: ${this.broken}`);
    const w = this.#w;
    Atomics.store(w, DONE, 0);
    Atomics.store(w, CMD, cmd);
    Atomics.store(w, DESC, desc);
    Atomics.store(w, NT, nt);
    Atomics.store(w, ROUNDS, rounds);
    if (cmd !== CMD_TEAMS) Atomics.store(w, SPLIT, nt);
    this.#running = true;
    Atomics.add(w, SEQ, 1);
    if (Atomics.load(w, WORKER_SLEEPERS) > 0) Atomics.notify(w, SEQ);
    let failure: unknown = null;
    try {
      if (beforeOwn) beforeOwn();
      if (cmd === CMD_BARRIERS) this.kernels.spinBarriers(this.ctl, nt, rounds);
      else this.kernels.runLayer(desc, 0);
    } catch (error) {
      failure = error;
      this.abort(1);
    }
    const joined = this.join();
    this.#running = false;
    const aborted = Atomics.load(w, ABORT) || Atomics.load(this.#w2, ABORT);
    if (failure === null && aborted === 0 && joined) return;
    // Leave the block as a fresh call expects it, then report.
    const message = failure !== null ? `thread 0: ${(failure as Error).message ?? failure}` : this.message();
    for (const block of [w, this.#w2]) {
      Atomics.store(block, COUNT, 0);
      Atomics.store(block, ABORT, 0);
    }
    Atomics.store(w, MESSAGE_LENGTH, 0);
    if (!joined || aborted === 2) {
      this.broken ??= `a worker stopped answering (no reply within ${CALL_TIMEOUT_MS / 1000} s); running on one thread from now on`;
      this.dispose();
    }
    throw new BackendError(`wasm: a kernel failed on a worker thread (${message}); the backend stays usable`);
  }

  /** Waits until every worker has left the call; false if one did not within the timeout. */
  private join(): boolean {
    const w = this.#w;
    const workers = this.size - 1;
    let spins = 0;
    // Sleeps of 1 ms at most, counted instead of timed (a clock reading allocates in a streamed frame):
    // a wait returns early only when a worker finished, at most `workers` times a call.
    let sleeps = 0;
    for (;;) {
      const done = Atomics.load(w, DONE);
      if (done >= workers) return true;
      if (++spins < this.spins.join) continue;
      if (this.broken || ++sleeps > CALL_TIMEOUT_MS + workers) return false;
      Atomics.store(w, CALLER_SLEEPING, 1);
      Atomics.wait(w, DONE, done, 1);
      Atomics.store(w, CALLER_SLEEPING, 0);
    }
  }

  private message(): string {
    const length = Atomics.load(this.#w, MESSAGE_LENGTH);
    if (length === 0) return 'aborted';
    const bytes = new Uint8Array(this.memory.buffer, this.ctl + MESSAGE * 4, length).slice();
    return new TextDecoder().decode(bytes);
  }

  /** Makes every thread of the call leave its barrier (both teams' blocks). */
  private abort(code: number): void {
    for (const block of [this.#w, this.#w2]) {
      Atomics.store(block, ABORT, code);
      Atomics.notify(block, GEN);
    }
  }

  /** A worker died: let the threads of a running call leave their barriers. */
  private abortRunning(): void {
    if (this.#running) this.abort(2);
  }

  /** Ends the workers (they exit their loop, then are terminated). The pool cannot run calls afterwards. */
  dispose(): void {
    const w = this.#w;
    Atomics.store(w, EXIT, 1);
    Atomics.add(w, SEQ, 1);
    Atomics.notify(w, SEQ);
    for (const worker of this.#workers) worker.terminate();
    this.#workers.length = 0;
    this.broken ??= 'the thread pool was disposed';
  }
}

/** The median of the first n values (sorted in place). */
function median(v: Float64Array, n: number): number {
  const part = v.subarray(0, n).sort();
  return part[n >> 1]!;
}

/**
 * Starts a pool of `size` threads for `runtime` (on a shared memory) and hands it to the runtime with
 * the cost model's inputs, unless `keep()` says the runtime was replaced meanwhile. Returns the GEMM
 * rate (measured once: pass the previous one back to skip it). Rejects if the workers cannot start.
 */
export async function startThreads(
  runtime: WasmRuntime,
  module: WebAssembly.Module,
  size: number,
  split: 'auto' | 'always',
  gemmRate: number,
  keep: () => boolean,
): Promise<number> {
  const pool = await ThreadPool.start(size, module, runtime.memory, runtime.ctl, runtime.kernels, await coreCount());
  if (!keep()) {
    pool.dispose();
    return gemmRate;
  }
  const rate = gemmRate || measureGemm(runtime);
  runtime.flopsPerNs = rate;
  runtime.alwaysSplit = split === 'always';
  runtime.pool = pool;
  return rate;
}

/**
 * One thread's GEMM rate in flop/ns (GFLOP/s), on a small step-sized product (52 KiB, so measuring never
 * grows the memory): the cost model's yardstick.
 */
function measureGemm(r: WasmRuntime): number {
  const m = 16;
  const n = 96;
  const k = 64;
  const repeats = 64;
  const { heap, kernels } = r;
  const a = heap.alloc(m * k * 4);
  const b = heap.alloc(kernels.packedSize(k, n));
  const c = heap.alloc(k * n * 4);
  try {
    heap.f32.fill(0.5, a >> 2, (a >> 2) + m * k);
    heap.f32.fill(0.25, c >> 2, (c >> 2) + k * n);
    kernels.packB(c, k, n, n, 1, b);
    let best = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      for (let j = 0; j < repeats; j++) kernels.gemm(m, n, k, a, k, b, c, n, false);
      best = Math.min(best, performance.now() - t);
    }
    return (2 * m * n * k * repeats) / Math.max(best * 1e6, 1);
  } finally {
    heap.release(c);
    heap.release(b);
    heap.release(a);
  }
}

