// What the kernels need to run on several threads over one shared memory: the control block's layout,
// a barrier, and how work is split so that every output element has exactly one owner and is summed
// in the same order as on one thread (results are bit-identical for any thread count).
//
// The control block is 256 bytes in the shared memory, each word on its own 64-byte line. The JS
// side (src/pool.ts) owns it: it wakes the workers, and sets ABORT when a thread failed so the others
// leave the barrier instead of waiting for a thread that will never come. In the build without
// threads every barrier is a no-op (and only one thread ever runs).

/** Threads that arrived at the current barrier. */
export const CTL_COUNT: usize = 0;
/** The barrier's generation: bumped by the last thread to arrive, which releases the others. */
export const CTL_GEN: usize = 64;
/** Non-zero once any thread of the current call failed: every thread leaves at its next barrier. */
export const CTL_ABORT: usize = 128;
/** Threads asleep in `memory.atomic.wait32` at the barrier (the releaser notifies only if any). */
export const CTL_SLEEPERS: usize = 192;

/** Spins before a waiting thread goes to sleep: a step of work is microseconds, a wake-up tens of them. */
const SPINS: i32 = 1 << 16;
/** The least a thread may be set to spin. */
const MIN_SPINS: i32 = 1 << 6;
/**
 * This thread's spins before it sleeps (a global: each thread has its own instance). The pool sets it
 * (`setSpins`): fewer where it has more threads than cores, since the thread being waited for is then
 * often not running and spinning only keeps it off the core longer. It does not adapt by itself: a
 * limit that halved after each sleep fell to a few spins on a noisy machine and then slept at nearly
 * every step of a streamed sequence (3-4 ms instead of 1.1 for the bench's stream on 2 threads).
 */
let spinLimit: i32 = SPINS;

/** Sets this thread's most spins at a barrier (at least 64): the pool's choice for its thread count. */
export function setSpins(spins: i32): void {
  spinLimit = max(spins, MIN_SPINS);
}
/** Sleeps of 1 ms in a row after which a barrier gives up (a thread died): 10 s. */
const MAX_SLEEPS: i32 = 10_000;

/**
 * Waits until all `nt` threads arrived. False if the call was aborted (a thread failed or died): the
 * caller returns at once. One thread always passes.
 */
export function barrier(ctl: usize, nt: i32): bool {
  if (nt <= 1) return true;
  if (ASC_FEATURE_THREADS) {
    const gen = atomic.load<i32>(ctl + CTL_GEN);
    if (atomic.add<i32>(ctl + CTL_COUNT, 1) == nt - 1) {
      atomic.store<i32>(ctl + CTL_COUNT, 0);
      atomic.add<i32>(ctl + CTL_GEN, 1);
      if (atomic.load<i32>(ctl + CTL_SLEEPERS) > 0) atomic.notify(ctl + CTL_GEN, nt);
    } else {
      let spins = 0;
      let sleeps = 0;
      while (atomic.load<i32>(ctl + CTL_GEN) == gen) {
        if (atomic.load<i32>(ctl + CTL_ABORT) != 0) return false;
        if (++spins < spinLimit) continue;
        // Announce the sleep before checking once more (the releaser reads SLEEPERS after bumping GEN,
        // and wait32 returns at once if GEN moved meanwhile), then sleep 1 ms at most.
        atomic.add<i32>(ctl + CTL_SLEEPERS, 1);
        memory.atomic.wait32(ctl + CTL_GEN, gen, 1_000_000);
        atomic.sub<i32>(ctl + CTL_SLEEPERS, 1);
        if (++sleeps > MAX_SLEEPS) {
          atomic.store<i32>(ctl + CTL_ABORT, 2);
          return false;
        }
      }
    }
    return atomic.load<i32>(ctl + CTL_ABORT) == 0;
  }
  return true;
}

/** Start of part `tid` of `n` items split into `nt` near-equal parts (end: partStart(n, tid + 1, nt)). */
// @ts-ignore: decorator
@inline
export function partStart(n: i32, tid: i32, nt: i32): i32 {
  return <i32>((<i64>n * tid) / nt);
}

// Work queues: where threads share a phase's work dynamically (layers.ts), each thread owns a queue of
// its share's tasks (blocks of 8 hidden units, or chunks of rows of its projection columns) in one i32,
// on its own 64-byte line: the next task in the low 16 bits, the end in the high 16. The owner takes
// tasks from the front; a thread done with its own takes the others' from the back. Which thread runs a
// task never changes what it computes (each output element has one owner per phase and is summed in
// the same order), so the bits stay the same; a thread the machine slows down just does fewer tasks.

/** A queue holding tasks [0, n). */
// @ts-ignore: decorator
@inline
export function queueFill(q: usize, n: i32): void {
  if (ASC_FEATURE_THREADS) atomic.store<i32>(q, n << 16);
  else store<i32>(q, n << 16);
}

/** The next task from the front of queue `q` (its owner), or -1 once it is empty. */
export function takeFront(q: usize): i32 {
  if (ASC_FEATURE_THREADS) {
    for (;;) {
      const v = atomic.load<i32>(q);
      const front = v & 0xffff;
      if (front >= (v >>> 16)) return -1;
      if (atomic.cmpxchg<i32>(q, v, v + 1) == v) return front;
    }
  }
  const v = load<i32>(q);
  const front = v & 0xffff;
  if (front >= (v >>> 16)) return -1;
  store<i32>(q, v + 1);
  return front;
}

/** The last task from the back of queue `q` (another thread helping its owner), or -1 once it is empty. */
export function takeBack(q: usize): i32 {
  if (ASC_FEATURE_THREADS) {
    for (;;) {
      const v = atomic.load<i32>(q);
      const end = v >>> 16;
      if ((v & 0xffff) >= end) return -1;
      if (atomic.cmpxchg<i32>(q, v, v - 0x10000) == v) return end - 1;
    }
  }
  const v = load<i32>(q);
  const end = v >>> 16;
  if ((v & 0xffff) >= end) return -1;
  store<i32>(q, v - 0x10000);
  return end - 1;
}

/** Barrier rounds of a call, for the cost model and the tests: one per step, plus the projection's. */
export function spinBarriers(ctl: usize, nt: i32, rounds: i32): i32 {
  for (let i = 0; i < rounds; i++) if (!barrier(ctl, nt)) return i;
  return rounds;
}
