// Fused recurrent layers: one direction of one layer over a whole sequence, on one thread or several
// over a shared memory. The input projections of every row are one GEMM into `gx` (row stride gh8 =
// 8-padded G*H, bias added); each step then accumulates the recurrent GEMM over the active rows
// straight into that step's rows of `gx` (LSTM, RNN) or into `gates` (GRU, whose n gate needs W_hn h
// apart) and applies the gates in place.
//
// Threads: a step splits by hidden units in blocks of 8, each thread owning all gates of its units, so
// the cell update needs no exchange, and the projection gives each thread the gate columns of its
// units (else 8-column panels, or 4-row blocks for a small hidden size); h is double-buffered (step s
// reads one buffer and writes the other), so one barrier between steps suffices (two with an LSTM
// projection, whose GEMM needs every unit) and none after the last (the pool's join). Every output
// element has one owner and is summed over k in the same order whatever the split: results are
// bit-identical for any thread count. When H (or the projection's P) is not a multiple of 8, thread 0
// owns the whole step and the others only help with the projection.
//
// Uneven cores: with work queues (descriptor slot SCHED, threads.ts) the projection's row chunks and
// a batched step's blocks of 8 units are each thread's own tasks first, and a thread done with its own
// takes tasks from the back of the others' queues, so a core the machine slows down (a busy sibling
// hyperthread, a little core, another process) does fewer of them instead of holding every step up.
// Any thread may run any block: its gate columns, c and h columns are that block's alone, so the bits
// do not change. A step of fewer than 4 rows (a streamed sequence) is a few microseconds: there each
// thread runs a fixed share of whole 16-unit panels instead, since taking blocks one by one cost 5-15%
// of a streamed call on 2 threads when the cores kept pace (bench/README.md). Such steps go through
// the queues, in 16-unit tasks, only where the descriptor says so (ROW_QUEUES): the JS side probes
// them now and then and keeps them while one thread keeps doing another's tasks (src/runtime.ts,
// RowPolicy), which is what a core slower for whole calls needs.
//
// Padded layout: step t has B rows at t*B. Packed layout (batchSizes != 0): step t has batchSizes[t]
// rows, stored one step after another. Pointers are byte offsets; the JS side owns every buffer and
// passes their offsets in a descriptor (slots below); nothing here allocates and no state outlives
// a call.

import { relu4, reluScalar, sigmoid4, sigmoidScalar, tanh4, tanhScalar } from './activations';
import { gemm, gemmBias, gemv16 } from './gemm';
import { num, roundUp8, slot } from './desc';
import { barrier, partStart, queueFill, takeBack, takeFront } from './threads';

// Descriptor slots (i32; pointers are byte offsets, 0 = absent).
const MODE = 0; // 0 lstm, 1 gru, 2 rnn_tanh, 3 rnn_relu
const T_ = 1;
const B_ = 2;
const ROWS = 3;
const I_ = 4;
const H_ = 5;
const P_ = 6;
const REVERSE = 7;
const NT = 8; // threads taking part in this call
const CTL = 9; // the control block (threads.ts)
const X = 10; // input rows [rows, I]
const WIH = 11; // W_ih^T packed
const WHH = 12; // W_hh^T packed
const BIAS = 13; // folded bias [gh8]
const WHR = 14; // LSTM: W_hr^T packed or 0
const BHN = 15; // GRU: b_hn [H]
const SIZES = 16; // batchSizes [T] or 0
const H0 = 17; // [B, P] h: in h0, and h after an even number of steps
const H1 = 18; // [B, P] the other h buffer (holds h0 too at the start); h after an odd number of steps
const C = 19; // [B, H] LSTM c, in place
const OUT = 20; // [rows, P]
const GX = 21; // [rows, gh8]
const HFULL = 22; // LSTM with projection: [B, H]
const PTMP = 23; // LSTM with projection: [B, p8]
const GATES = 24; // GRU: [B, gh8]
const ACTS = 25; // training reserve: [rows, 4H] or 0
const CS = 26; // training reserve: LSTM c per row [rows, H] or 0
const HS = 27; // training reserve: h per row [rows, P] or 0
const HFULLS = 28; // training reserve: LSTM h before projection [rows, H] or 0
const SCHED = 29; // the call's work queues (4 lines of 64 bytes per thread, below) or 0: fixed shares only
const SCHED_FLAGS = 30; // 1: a thread takes the others' tasks before its own (tests: every path runs); ROW_QUEUES
const WHH16 = 31; // W_hh^T in 16-column panels (gemm.ts, packB16) for one-row steps, or 0

/** Queue `set` of thread `tid`: 0 the projection's, 1 and 2 the steps' (even, odd); 3 counts its takings. */
// @ts-ignore: decorator
@inline
function queueOf(sched: usize, set: i32, tid: i32, nt: i32): usize {
  return sched + (<usize>(set * nt + tid) << 6);
}

/** Rows per projection task: 64, more where the rows would make over 4096 tasks. */
// @ts-ignore: decorator
@inline
function projChunk(rows: i32): i32 {
  return 64 * max(1, (rows + 64 * 4096 - 1) / (64 * 4096));
}

/** True where a call's projection and steps go through the work queues (else each thread does its share). */
// @ts-ignore: decorator
@inline
function sharesWork(d: usize, nt: i32, H: i32): bool {
  return nt > 1 && slot(d, SCHED) != 0 && (H & 7) == 0 && slot(d, WHR) == 0 && H < (1 << 19);
}

/** Rows from which a step's blocks of units go through the work queues (below: fixed shares). */
const QUEUED_ROWS = 4;
/**
 * SCHED_FLAGS bit: steps below QUEUED_ROWS rows go through the work queues too, in 16-unit tasks. The
 * JS side sets it while it sees one thread doing another's work (a core slower for a whole call) and
 * for an occasional probe (src/runtime.ts, RowPolicy).
 */
const ROW_QUEUES = 2;

/** Tasks of a step with `nb` rows for a thread owning units [j0, j1): blocks of 8 units, 16 below QUEUED_ROWS. */
// @ts-ignore: decorator
@inline
function stepTasks(j0: i32, j1: i32, nb: i32, rowQueues: bool): i32 {
  if (nb >= QUEUED_ROWS) return (j1 - j0) >> 3;
  return rowQueues ? (j1 - j0 + 15) >> 4 : 0;
}

/**
 * Fills the work queues of the call described at `d` before its threads start (the calling thread runs
 * this): every thread's projection chunks and first step's tasks, and a zero count of tasks taken.
 */
export function queuesInit(d: usize): void {
  const nt = num(d, NT);
  const H = num(d, H_);
  const T = num(d, T_);
  if (!sharesWork(d, nt, H)) return;
  const sched = slot(d, SCHED);
  const rows = num(d, ROWS);
  const chunk = projChunk(rows);
  const rowQueues = (num(d, SCHED_FLAGS) & ROW_QUEUES) != 0;
  const nb = T > 0 ? stepRows(num(d, REVERSE) != 0 ? T - 1 : 0, num(d, B_), slot(d, SIZES)) : 0;
  for (let tid = 0; tid < nt; tid++) {
    queueFill(queueOf(sched, 0, tid, nt), (rows + chunk - 1) / chunk);
    queueFill(queueOf(sched, 1, tid, nt), T > 0 ? stepTasks(ownStart(H, tid, nt), ownStart(H, tid + 1, nt), nb, rowQueues) : 0);
    store<i32>(queueOf(sched, 3, tid, nt), 0);
  }
}

/**
 * Start of thread `tid`'s share of `n` columns that are split in blocks of 8 (end: the share of
 * tid + 1). When n is not a multiple of 8, or one thread runs, thread 0 owns them all.
 */
// @ts-ignore: decorator
@inline
function ownStart(n: i32, tid: i32, nt: i32): i32 {
  if (tid >= nt) return n;
  if (nt == 1 || (n & 7) != 0) return tid == 0 ? 0 : n;
  return partStart(n >> 3, tid, nt) << 3;
}

/**
 * Start of thread `tid`'s fixed share of the units of a step below QUEUED_ROWS rows (a work-queue call):
 * whole 16-unit panels where H allows, so that every thread's share runs the one-row product (gemv16).
 */
// @ts-ignore: decorator
@inline
function rowShareStart(H: i32, tid: i32, nt: i32): i32 {
  if ((H & 15) != 0) return ownStart(H, tid, nt);
  return tid >= nt ? H : partStart(H >> 4, tid, nt) << 4;
}

/**
 * gx[r, :] = x[r, :] @ W_ih^T + bias, this thread's share. When the steps split by units (H a multiple
 * of 8), a thread projects exactly the gate columns of the units it will own, so each step reads only
 * what this thread wrote (it stays in this core's caches); otherwise its 8-column panels, or its 4-row
 * blocks when there are too few panels to share (a small hidden size) and enough rows.
 */
function project(d: usize, rows: i32, inputSize: i32, G: i32, H: i32, gh8: i32, x: usize, wih: usize, bias: usize, gx: usize, tid: i32, nt: i32): void {
  if (sharesWork(d, nt, H)) {
    projectShared(d, rows, inputSize, G, H, gh8, x, wih, bias, gx, tid, nt);
    return;
  }
  if (nt > 1 && (H & 7) == 0) {
    const j0 = ownStart(H, tid, nt);
    const j1 = ownStart(H, tid + 1, nt);
    for (let g = 0; g < G; g++) projectColumns(rows, inputSize, gh8, g * H + j0, g * H + j1, 0, rows, x, wih, bias, gx);
    return;
  }
  let r0 = 0, r1 = rows, c0 = 0, c1 = gh8;
  if (nt > 1) {
    if ((gh8 >> 3) < 4 * nt && rows >= 8 * nt) {
      const blocks = rows >> 2;
      r0 = partStart(blocks, tid, nt) << 2;
      r1 = tid == nt - 1 ? rows : partStart(blocks, tid + 1, nt) << 2;
    } else {
      c0 = partStart(gh8 >> 3, tid, nt) << 3;
      c1 = partStart(gh8 >> 3, tid + 1, nt) << 3;
    }
  }
  projectColumns(rows, inputSize, gh8, c0, c1, r0, r1, x, wih, bias, gx);
}

/**
 * The projection through the work queues: a task is a chunk of rows of one thread's gate columns (those
 * of the units it owns in the steps). This thread's own chunks first, then the others' from their back.
 */
function projectShared(d: usize, rows: i32, inputSize: i32, G: i32, H: i32, gh8: i32, x: usize, wih: usize, bias: usize, gx: usize, tid: i32, nt: i32): void {
  const sched = slot(d, SCHED);
  const chunk = projChunk(rows);
  const othersFirst = num(d, SCHED_FLAGS) & 1;
  let taken = 0;
  for (let pass = 0; pass < 2; pass++) {
    if ((pass == 0) != (othersFirst != 0)) {
      const q = queueOf(sched, 0, tid, nt);
      const j0 = ownStart(H, tid, nt);
      const j1 = ownStart(H, tid + 1, nt);
      for (let c = takeFront(q); c >= 0; c = takeFront(q)) {
        for (let g = 0; g < G; g++) projectColumns(rows, inputSize, gh8, g * H + j0, g * H + j1, c * chunk, min(rows, (c + 1) * chunk), x, wih, bias, gx);
      }
    } else {
      for (let v = 1; v < nt; v++) {
        const other = tid + v < nt ? tid + v : tid + v - nt;
        const q = queueOf(sched, 0, other, nt);
        const j0 = ownStart(H, other, nt);
        const j1 = ownStart(H, other + 1, nt);
        for (let c = takeBack(q); c >= 0; c = takeBack(q)) {
          for (let g = 0; g < G; g++) projectColumns(rows, inputSize, gh8, g * H + j0, g * H + j1, c * chunk, min(rows, (c + 1) * chunk), x, wih, bias, gx);
          taken++;
        }
      }
    }
  }
  const count = queueOf(sched, 3, tid, nt);
  store<i32>(count, load<i32>(count) + taken);
}

/** Rows [r0, r1) and columns [c0, c1) (multiples of 8, or the whole width) of the projection, the bias first in every sum. */
function projectColumns(rows: i32, inputSize: i32, gh8: i32, c0: i32, c1: i32, r0: i32, r1: i32, x: usize, wih: usize, bias: usize, gx: usize): void {
  if (r1 <= r0 || c1 <= c0) return;
  gemmBias(r1 - r0, c1 - c0, inputSize, x + (<usize>(r0 * inputSize) << 2), inputSize,
    wih + <usize>(c0 >> 3) * (<usize>inputSize << 5), gx + (<usize>(r0 * gh8 + c0) << 2), gh8, false, bias + (<usize>c0 << 2));
}

/**
 * The recurrent GEMM for units [j0, j1) of each of G gate blocks: C[:, g*H + j] (+)= h @ W^T. Whole
 * panels, since H, j0 and j1 are multiples of 8 unless one thread owns all the units. A one-row step
 * reads W^T's 16-column panels (`w16`, where the JS side packed them) when its units fill whole ones:
 * the same sums in the same order, one contiguous stream.
 */
function gateGemm(nb: i32, G: i32, H: i32, j0: i32, j1: i32, k: i32, h: usize, w: usize, w16: usize, c: usize, ldc: i32, accumulate: bool): void {
  if (j1 <= j0) return;
  if (nb == 1 && w16 != 0 && (H & 15) == 0 && (j0 & 15) == 0 && (j1 & 15) == 0) {
    const panelBytes = <usize>k << 6;
    for (let g = 0; g < G; g++) {
      const col = g * H + j0;
      gemv16(j1 - j0, k, h, w16 + <usize>(col >> 4) * panelBytes, c + (<usize>col << 2), accumulate);
    }
    return;
  }
  if (j0 == 0 && j1 == H) {
    gemm(nb, G * H, k, h, k, w, c, ldc, accumulate);
    return;
  }
  for (let g = 0; g < G; g++) {
    const col = g * H + j0;
    gemm(nb, j1 - j0, k, h, k, w + <usize>(col >> 3) * (<usize>k << 5), c + (<usize>col << 2), ldc, accumulate);
  }
}

/**
 * Copies columns [c0, c1) of nb rows from src (row stride srcStride) to dst (dstStride), in floats. A
 * loop rather than memory.copy, which V8 runs as a call out of the wasm code: a row here is one
 * thread's share of h, often 64 bytes.
 */
function copyCols(nb: i32, c0: i32, c1: i32, src: usize, srcStride: i32, dst: usize, dstStride: i32): void {
  if (c1 <= c0) return;
  const bytes = <usize>(c1 - c0) << 2;
  for (let b = 0; b < nb; b++) {
    const to = dst + (<usize>(b * dstStride + c0) << 2);
    const from = src + (<usize>(b * srcStride + c0) << 2);
    let o: usize = 0;
    for (; o + 16 <= bytes; o += 16) v128.store(to + o, v128.load(from + o));
    for (; o < bytes; o += 4) store<f32>(to + o, load<f32>(from + o));
  }
}

/** Active rows of step t: B padded, batchSizes[t] packed. */
// @ts-ignore: decorator
@inline
function stepRows(t: i32, B: i32, batchSizes: usize): i32 {
  return batchSizes == 0 ? B : load<i32>(batchSizes + (<usize>t << 2));
}

/** Where touchLines leaves what it read, so that its loads are kept. */
let touched: i32 = 0;

/**
 * Loads one value of every 64-byte line of `floats` floats at `p`: at the start of a short step, so
 * that the lines of h the other threads wrote come over together instead of one by one as the product
 * reaches them (2% of a streamed call on 2 threads).
 */
function touchLines(p: usize, floats: i32): void {
  let v = v128.splat<i32>(0);
  const end = p + (<usize>floats << 2);
  for (let a = p; a < end; a += 64) v = v128.or(v, v128.load32_zero(a));
  touched = i32x4.extract_lane(v, 0);
}

/**
 * Runs this thread's share of one layer call described at `d` (the JS side fills the descriptor and
 * every thread of the call runs this with its own `tid`). Returns false if the call was aborted.
 */
export function runLayer(d: usize, tid: i32): bool {
  const mode = num(d, MODE);
  const nt = num(d, NT);
  const ctl = slot(d, CTL);
  const T = num(d, T_);
  const B = num(d, B_);
  const rows = num(d, ROWS);
  const inputSize = num(d, I_);
  const H = num(d, H_);
  const P = num(d, P_);
  const reverse = num(d, REVERSE) != 0;
  const sizes = slot(d, SIZES);
  const G = mode == 0 ? 4 : mode == 1 ? 3 : 1;
  const gh8 = roundUp8(G * H);
  const whr = mode == 0 ? slot(d, WHR) : 0;
  const shared = sharesWork(d, nt, H);
  // This thread's units, and its columns of h (the projection's P columns, or its units).
  const j0 = ownStart(H, tid, nt);
  const j1 = ownStart(H, tid + 1, nt);
  const q0 = whr != 0 ? ownStart(P, tid, nt) : j0;
  const q1 = whr != 0 ? ownStart(P, tid + 1, nt) : j1;
  // The units of the steps it runs outside the queues: with the queues, steps below QUEUED_ROWS rows
  // run a fixed share of whole 16-unit panels (unless ROW_QUEUES sends them through the queues too).
  const u0 = shared ? rowShareStart(H, tid, nt) : j0;
  const u1 = shared ? rowShareStart(H, tid + 1, nt) : j1;
  // A call whose steps all run fixed shares (B is the first and largest step's rows) projects each
  // thread's share of gate columns, which only its own steps read: no barrier is needed between the
  // projection and the first step, so a streamed frame's call has none at all.
  const rowQueues = (num(d, SCHED_FLAGS) & ROW_QUEUES) != 0;
  const fixedRows = shared && B < QUEUED_ROWS && !rowQueues;
  if (fixedRows) {
    for (let g = 0; g < G; g++) {
      projectColumns(rows, inputSize, gh8, g * H + u0, g * H + u1, 0, rows, slot(d, X), slot(d, WIH), slot(d, BIAS), slot(d, GX));
    }
  } else {
    project(d, rows, inputSize, G, H, gh8, slot(d, X), slot(d, WIH), slot(d, BIAS), slot(d, GX), tid, nt);
    if (!barrier(ctl, nt)) return false;
  }
  const whh = slot(d, WHH);
  const gx = slot(d, GX);
  const out = slot(d, OUT);
  const hs = slot(d, HS);
  const acts = slot(d, ACTS);
  let hCur = slot(d, H0);
  let hNext = slot(d, H1);
  let row = reverse ? rows : 0;
  let nb = 0;
  for (let s = 0; s < T; s++) {
    const t = reverse ? T - 1 - s : s;
    const prev = nb;
    if (reverse) {
      nb = stepRows(t, B, sizes);
      row -= nb;
    } else {
      row += nb;
      nb = stepRows(t, B, sizes);
      // Sequences that just ended keep their last h in both buffers from now on (a reverse pass only
      // gains rows, which hold h0 in both).
      if (nb < prev) copyCols(prev - nb, q0, q1, hCur + (<usize>(nb * P) << 2), P, hNext + (<usize>(nb * P) << 2), P);
    }
    // A short step first brings over the lines of h the other threads wrote, all at once.
    if (whr == 0 && nt > 1 && nb < QUEUED_ROWS) touchLines(hCur, nb * P);
    if (whr != 0) {
      lstmStep(d, row, nb, H, P, gh8, j0, j1, whh, gx, hCur, hNext, acts);
      if (!barrier(ctl, nt)) return false;
      projectStep(d, row, nb, H, P, j0, j1, q0, q1, hNext);
      copyCols(nb, q0, q1, hNext, P, out + (<usize>(row * P) << 2), P);
      if (hs != 0) copyCols(nb, q0, q1, hNext, P, hs + (<usize>(row * P) << 2), P);
    } else if (shared && (nb >= QUEUED_ROWS || rowQueues)) {
      stepShared(d, mode, row, nb, H, gh8, whh, gx, hCur, hNext, acts, out, hs, 1 + (s & 1), tid, nt);
    } else {
      unitsStep(d, mode, row, nb, H, gh8, u0, u1, whh, gx, hCur, hNext, acts, out, hs);
    }
    // This thread's blocks of the next step, in the queues the step before this one used (every task
    // of those was taken before the last barrier, and no thread reads them before the next).
    if (shared && s + 1 < T) {
      queueFill(queueOf(slot(d, SCHED), 1 + ((s + 1) & 1), tid, nt), stepTasks(j0, j1, stepRows(reverse ? t - 1 : t + 1, B, sizes), rowQueues));
    }
    const swap = hCur;
    hCur = hNext;
    hNext = swap;
    // After the last step the pool's join (src/pool.ts) waits for every thread: no barrier needed.
    if (s + 1 < T && !barrier(ctl, nt)) return false;
  }
  return true;
}

/**
 * One step of units [j0, j1) without an LSTM projection (where h's columns are the units): the gates,
 * the cell update, and h copied to the output (and the training reserve).
 */
function unitsStep(
  d: usize, mode: i32, row: i32, nb: i32, H: i32, gh8: i32, j0: i32, j1: i32,
  whh: usize, gx: usize, hCur: usize, hNext: usize, acts: usize, out: usize, hs: usize,
): void {
  if (mode == 0) lstmStep(d, row, nb, H, H, gh8, j0, j1, whh, gx, hCur, hNext, acts);
  else if (mode == 1) gruStep(d, row, nb, H, gh8, j0, j1, whh, gx, hCur, hNext, acts);
  else rnnStep(row, nb, H, gh8, j0, j1, mode == 3, whh, slot(d, WHH16), gx, hCur, hNext);
  copyCols(nb, j0, j1, hNext, H, out + (<usize>(row * H) << 2), H);
  if (hs != 0) copyCols(nb, j0, j1, hNext, H, hs + (<usize>(row * H) << 2), H);
}

/**
 * One step through the work queues (queue `set` of each thread): this thread's tasks (blocks of 8
 * units; 16 below QUEUED_ROWS rows, which come here with ROW_QUEUES) from the front of its queue,
 * then the others' from their back.
 */
function stepShared(
  d: usize, mode: i32, row: i32, nb: i32, H: i32, gh8: i32,
  whh: usize, gx: usize, hCur: usize, hNext: usize, acts: usize, out: usize, hs: usize, set: i32, tid: i32, nt: i32,
): void {
  const sched = slot(d, SCHED);
  const othersFirst = num(d, SCHED_FLAGS) & 1;
  const units = nb < QUEUED_ROWS ? 16 : 8;
  let taken = 0;
  for (let pass = 0; pass < 2; pass++) {
    if ((pass == 0) != (othersFirst != 0)) {
      const q = queueOf(sched, set, tid, nt);
      const j0 = ownStart(H, tid, nt);
      const j1 = ownStart(H, tid + 1, nt);
      for (let b = takeFront(q); b >= 0; b = takeFront(q)) {
        unitsStep(d, mode, row, nb, H, gh8, j0 + units * b, min(j1, j0 + units * (b + 1)), whh, gx, hCur, hNext, acts, out, hs);
      }
    } else {
      for (let v = 1; v < nt; v++) {
        const other = tid + v < nt ? tid + v : tid + v - nt;
        const q = queueOf(sched, set, other, nt);
        const j0 = ownStart(H, other, nt);
        const j1 = ownStart(H, other + 1, nt);
        for (let b = takeBack(q); b >= 0; b = takeBack(q)) {
          unitsStep(d, mode, row, nb, H, gh8, j0 + units * b, min(j1, j0 + units * (b + 1)), whh, gx, hCur, hNext, acts, out, hs);
          taken++;
        }
      }
    }
  }
  if (taken > 0) {
    const count = queueOf(sched, 3, tid, nt);
    store<i32>(count, load<i32>(count) + taken);
  }
}

/** LSTM (gates i, f, g, o) for units [j0, j1): c in place, h into hNext (or hfull with a projection). */
// @ts-ignore: decorator
@inline
function lstmStep(
  d: usize, row: i32, nb: i32, H: i32, P: i32, gh8: i32, j0: i32, j1: i32,
  whh: usize, gx: usize, hCur: usize, hNext: usize, acts: usize,
): void {
  const proj = slot(d, WHR) != 0;
  const c = slot(d, C);
  const cs = slot(d, CS);
  const hOut = proj ? slot(d, HFULL) : hNext;
  const hStride = proj ? H : P;
  const g0 = gx + (<usize>(row * gh8) << 2);
  gateGemm(nb, 4, H, j0, j1, P, hCur, whh, slot(d, WHH16), g0, gh8, true);
  const hBytes = <usize>H << 2;
  for (let b = 0; b < nb; b++) {
    const g = g0 + (<usize>(b * gh8) << 2);
    const cb = c + (<usize>(b * H) << 2);
    const hb = hOut + (<usize>(b * hStride) << 2);
    // The reserve of a training call: gates i, f, g, o and c of this row.
    const ab = acts + (<usize>((row + b) * 4 * H) << 2);
    const csb = cs + (<usize>((row + b) * H) << 2);
    let j = j0;
    // Two vectors at a time with their statements interleaved: each vector is a long chain of exps and
    // divisions, and V8 keeps the order written, so two chains side by side keep the core busy where
    // one leaves it waiting on latency (bench/README.md, "Gates two vectors at a time").
    for (; j + 8 <= j1; j += 8) {
      const o = <usize>j << 2;
      const iA = sigmoid4(v128.load(g + o));
      const iB = sigmoid4(v128.load(g + o, 16));
      const fA = sigmoid4(v128.load(g + hBytes + o));
      const fB = sigmoid4(v128.load(g + hBytes + o, 16));
      const gA = tanh4(v128.load(g + 2 * hBytes + o));
      const gB = tanh4(v128.load(g + 2 * hBytes + o, 16));
      const oA = sigmoid4(v128.load(g + 3 * hBytes + o));
      const oB = sigmoid4(v128.load(g + 3 * hBytes + o, 16));
      const cA = f32x4.add(f32x4.mul(fA, v128.load(cb + o)), f32x4.mul(iA, gA));
      const cB = f32x4.add(f32x4.mul(fB, v128.load(cb + o, 16)), f32x4.mul(iB, gB));
      v128.store(cb + o, cA);
      v128.store(cb + o, cB, 16);
      v128.store(hb + o, f32x4.mul(oA, tanh4(cA)));
      v128.store(hb + o, f32x4.mul(oB, tanh4(cB)), 16);
      if (acts != 0) {
        storeReserve(ab + o, hBytes, iA, fA, gA, oA);
        storeReserve(ab + o + 16, hBytes, iB, fB, gB, oB);
        v128.store(csb + o, cA);
        v128.store(csb + o, cB, 16);
      }
    }
    for (; j + 4 <= j1; j += 4) {
      const o = <usize>j << 2;
      const ig = sigmoid4(v128.load(g + o));
      const fg = sigmoid4(v128.load(g + hBytes + o));
      const gg = tanh4(v128.load(g + 2 * hBytes + o));
      const og = sigmoid4(v128.load(g + 3 * hBytes + o));
      const cv = f32x4.add(f32x4.mul(fg, v128.load(cb + o)), f32x4.mul(ig, gg));
      v128.store(cb + o, cv);
      v128.store(hb + o, f32x4.mul(og, tanh4(cv)));
      if (acts != 0) {
        storeReserve(ab + o, hBytes, ig, fg, gg, og);
        v128.store(csb + o, cv);
      }
    }
    for (; j < j1; j++) {
      const o = <usize>j << 2;
      const ig = sigmoidScalar(load<f32>(g + o));
      const fg = sigmoidScalar(load<f32>(g + hBytes + o));
      const gg = tanhScalar(load<f32>(g + 2 * hBytes + o));
      const og = sigmoidScalar(load<f32>(g + 3 * hBytes + o));
      const cv = fg * load<f32>(cb + o) + ig * gg;
      store<f32>(cb + o, cv);
      store<f32>(hb + o, og * tanhScalar(cv));
      if (acts != 0) {
        store<f32>(ab + o, ig);
        store<f32>(ab + hBytes + o, fg);
        store<f32>(ab + 2 * hBytes + o, gg);
        store<f32>(ab + 3 * hBytes + o, og);
        store<f32>(csb + o, cv);
      }
    }
  }
}

/** LSTM projection h = hfull @ W_hr^T for this thread's P columns [q0, q1), once every unit is in hfull. */
function projectStep(d: usize, row: i32, nb: i32, H: i32, P: i32, j0: i32, j1: i32, q0: i32, q1: i32, hNext: usize): void {
  const hfull = slot(d, HFULL);
  const p8 = roundUp8(P);
  const ptmp = slot(d, PTMP);
  if (q1 > q0) {
    if (q0 == 0 && q1 == P) gemm(nb, P, H, hfull, H, slot(d, WHR), ptmp, p8, false);
    else gemm(nb, q1 - q0, H, hfull, H, slot(d, WHR) + <usize>(q0 >> 3) * (<usize>H << 5), ptmp + (<usize>q0 << 2), p8, false);
    copyCols(nb, q0, q1, ptmp, p8, hNext, P);
  }
  const hfulls = slot(d, HFULLS);
  if (hfulls != 0) copyCols(nb, j0, j1, hfull, H, hfulls + (<usize>(row * H) << 2), H);
}

/** GRU (gates r, z, n) with n = tanh(x W_in + b_in + r * (h W_hn + b_hn)), for units [j0, j1). */
// @ts-ignore: decorator
@inline
function gruStep(
  d: usize, row: i32, nb: i32, H: i32, gh8: i32, j0: i32, j1: i32,
  whh: usize, gx: usize, hCur: usize, hNext: usize, acts: usize,
): void {
  const gates = slot(d, GATES);
  const bhn = slot(d, BHN);
  gateGemm(nb, 3, H, j0, j1, H, hCur, whh, slot(d, WHH16), gates, gh8, false);
  const hBytes = <usize>H << 2;
  const gBytes = <usize>gh8 << 2;
  // Row b's pointers: its step inputs, W_hh h, h, h', and the reserve of a training call (r, z, n and
  // W_hn h + b_hn per row).
  let xg = gx + <usize>row * gBytes;
  let hg = gates;
  let hb = hCur;
  let hn1 = hNext;
  let ab = acts + <usize>row * (hBytes << 2);
  let b = 0;
  // Two rows by two vectors at a time, the four chains' statements interleaved (see lstmStep): 4-6%
  // of a batched GRU call.
  for (; b + 2 <= nb; b += 2) {
    const xg1 = xg + gBytes, hg1 = hg + gBytes, hb1 = hb + hBytes, hn2 = hn1 + hBytes, ab1 = ab + (hBytes << 2);
    let j = j0;
    for (; j + 8 <= j1; j += 8) {
      const o = <usize>j << 2;
      const rA = sigmoid4(f32x4.add(v128.load(xg + o), v128.load(hg + o)));
      const rB = sigmoid4(f32x4.add(v128.load(xg + o, 16), v128.load(hg + o, 16)));
      const rC = sigmoid4(f32x4.add(v128.load(xg1 + o), v128.load(hg1 + o)));
      const rD = sigmoid4(f32x4.add(v128.load(xg1 + o, 16), v128.load(hg1 + o, 16)));
      const zA = sigmoid4(f32x4.add(v128.load(xg + hBytes + o), v128.load(hg + hBytes + o)));
      const zB = sigmoid4(f32x4.add(v128.load(xg + hBytes + o, 16), v128.load(hg + hBytes + o, 16)));
      const zC = sigmoid4(f32x4.add(v128.load(xg1 + hBytes + o), v128.load(hg1 + hBytes + o)));
      const zD = sigmoid4(f32x4.add(v128.load(xg1 + hBytes + o, 16), v128.load(hg1 + hBytes + o, 16)));
      const bA = v128.load(bhn + o), bB = v128.load(bhn + o, 16);
      const qA = f32x4.add(v128.load(hg + 2 * hBytes + o), bA);
      const qB = f32x4.add(v128.load(hg + 2 * hBytes + o, 16), bB);
      const qC = f32x4.add(v128.load(hg1 + 2 * hBytes + o), bA);
      const qD = f32x4.add(v128.load(hg1 + 2 * hBytes + o, 16), bB);
      const nA = tanh4(f32x4.add(v128.load(xg + 2 * hBytes + o), f32x4.mul(rA, qA)));
      const nB = tanh4(f32x4.add(v128.load(xg + 2 * hBytes + o, 16), f32x4.mul(rB, qB)));
      const nC = tanh4(f32x4.add(v128.load(xg1 + 2 * hBytes + o), f32x4.mul(rC, qC)));
      const nD = tanh4(f32x4.add(v128.load(xg1 + 2 * hBytes + o, 16), f32x4.mul(rD, qD)));
      v128.store(hn1 + o, gruBlend(zA, nA, v128.load(hb + o)));
      v128.store(hn1 + o, gruBlend(zB, nB, v128.load(hb + o, 16)), 16);
      v128.store(hn2 + o, gruBlend(zC, nC, v128.load(hb1 + o)));
      v128.store(hn2 + o, gruBlend(zD, nD, v128.load(hb1 + o, 16)), 16);
      if (acts != 0) {
        storeReserve(ab + o, hBytes, rA, zA, nA, qA);
        storeReserve(ab + o + 16, hBytes, rB, zB, nB, qB);
        storeReserve(ab1 + o, hBytes, rC, zC, nC, qC);
        storeReserve(ab1 + o + 16, hBytes, rD, zD, nD, qD);
      }
    }
    gruRow(xg, hg, hb, hn1, ab, bhn, hBytes, j, j1, acts);
    gruRow(xg1, hg1, hb1, hn2, ab1, bhn, hBytes, j, j1, acts);
    xg += gBytes << 1; hg += gBytes << 1; hb += hBytes << 1; hn1 += hBytes << 1; ab += hBytes << 3;
  }
  for (; b < nb; b++) {
    gruRow(xg, hg, hb, hn1, ab, bhn, hBytes, j0, j1, acts);
    xg += gBytes; hg += gBytes; hb += hBytes; hn1 += hBytes; ab += hBytes << 2;
  }
}

/** h' = (1 - z) n + z h. */
// @ts-ignore: decorator
@inline
function gruBlend(z: v128, n: v128, h: v128): v128 {
  return f32x4.add(f32x4.mul(f32x4.sub(f32x4.splat(1), z), n), f32x4.mul(z, h));
}

/**
 * One vector of a training call's reserve row at `ab`: four values per unit, H apart (LSTM i, f, g, o;
 * GRU r, z, n and W_hn h + b_hn).
 */
// @ts-ignore: decorator
@inline
function storeReserve(ab: usize, hBytes: usize, v0: v128, v1: v128, v2: v128, v3: v128): void {
  v128.store(ab, v0);
  v128.store(ab + hBytes, v1);
  v128.store(ab + 2 * hBytes, v2);
  v128.store(ab + 3 * hBytes, v3);
}

/** Units [j, j1) of one GRU row (pointers as in gruStep): two vectors at a time, then one, then scalars. */
// @ts-ignore: decorator
@inline
function gruRow(xg: usize, hg: usize, hb: usize, hn1: usize, ab: usize, bhn: usize, hBytes: usize, j: i32, j1: i32, acts: usize): void {
  for (; j + 8 <= j1; j += 8) {
    const o = <usize>j << 2;
    const rA = sigmoid4(f32x4.add(v128.load(xg + o), v128.load(hg + o)));
    const rB = sigmoid4(f32x4.add(v128.load(xg + o, 16), v128.load(hg + o, 16)));
    const zA = sigmoid4(f32x4.add(v128.load(xg + hBytes + o), v128.load(hg + hBytes + o)));
    const zB = sigmoid4(f32x4.add(v128.load(xg + hBytes + o, 16), v128.load(hg + hBytes + o, 16)));
    const qA = f32x4.add(v128.load(hg + 2 * hBytes + o), v128.load(bhn + o));
    const qB = f32x4.add(v128.load(hg + 2 * hBytes + o, 16), v128.load(bhn + o, 16));
    const nA = tanh4(f32x4.add(v128.load(xg + 2 * hBytes + o), f32x4.mul(rA, qA)));
    const nB = tanh4(f32x4.add(v128.load(xg + 2 * hBytes + o, 16), f32x4.mul(rB, qB)));
    v128.store(hn1 + o, gruBlend(zA, nA, v128.load(hb + o)));
    v128.store(hn1 + o, gruBlend(zB, nB, v128.load(hb + o, 16)), 16);
    if (acts != 0) {
      storeReserve(ab + o, hBytes, rA, zA, nA, qA);
      storeReserve(ab + o + 16, hBytes, rB, zB, nB, qB);
    }
  }
  for (; j + 4 <= j1; j += 4) {
    const o = <usize>j << 2;
    const r = sigmoid4(f32x4.add(v128.load(xg + o), v128.load(hg + o)));
    const z = sigmoid4(f32x4.add(v128.load(xg + hBytes + o), v128.load(hg + hBytes + o)));
    const q = f32x4.add(v128.load(hg + 2 * hBytes + o), v128.load(bhn + o));
    const n = tanh4(f32x4.add(v128.load(xg + 2 * hBytes + o), f32x4.mul(r, q)));
    v128.store(hn1 + o, gruBlend(z, n, v128.load(hb + o)));
    if (acts != 0) storeReserve(ab + o, hBytes, r, z, n, q);
  }
  for (; j < j1; j++) {
    const o = <usize>j << 2;
    const r = sigmoidScalar(load<f32>(xg + o) + load<f32>(hg + o));
    const z = sigmoidScalar(load<f32>(xg + hBytes + o) + load<f32>(hg + hBytes + o));
    const q = load<f32>(hg + 2 * hBytes + o) + load<f32>(bhn + o);
    const n = tanhScalar(load<f32>(xg + 2 * hBytes + o) + r * q);
    store<f32>(hn1 + o, (1 - z) * n + z * load<f32>(hb + o));
    if (acts != 0) {
      store<f32>(ab + o, r);
      store<f32>(ab + hBytes + o, z);
      store<f32>(ab + 2 * hBytes + o, n);
      store<f32>(ab + 3 * hBytes + o, q);
    }
  }
}

/** Elman RNN with tanh (relu = false) or relu, for units [j0, j1). */
// @ts-ignore: decorator
@inline
function rnnStep(
  row: i32, nb: i32, H: i32, gh8: i32, j0: i32, j1: i32, relu: bool,
  whh: usize, whh16: usize, gx: usize, hCur: usize, hNext: usize,
): void {
  const g0 = gx + (<usize>(row * gh8) << 2);
  gateGemm(nb, 1, H, j0, j1, H, hCur, whh, whh16, g0, gh8, true);
  for (let b = 0; b < nb; b++) {
    const g = g0 + (<usize>(b * gh8) << 2);
    const hb = hNext + (<usize>(b * H) << 2);
    let j = j0;
    for (; j + 4 <= j1; j += 4) {
      const o = <usize>j << 2;
      const v = v128.load(g + o);
      v128.store(hb + o, relu ? relu4(v) : tanh4(v));
    }
    for (; j < j1; j++) {
      const o = <usize>j << 2;
      const v = load<f32>(g + o);
      store<f32>(hb + o, relu ? reluScalar(v) : tanhScalar(v));
    }
  }
}
