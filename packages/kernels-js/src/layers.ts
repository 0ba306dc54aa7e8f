// Fused whole-layer recurrent kernels. One GEMM projects the inputs of all T*B rows at once, then each
// step runs one recurrent GEMM over the active batch prefix and applies the gates in place, writing
// straight into the caller's output buffer. The time loop allocates nothing.

import {
  type LayerArgs,
  type PreparedWeights,
  type RecurrentMode,
  type RecurrentWeights,
  ShapeError,
  gateCount,
} from '@recur/core-tensor';
import { relu, sigmoid } from './activations.js';
import { gemm } from './gemm.js';

/** Weights transposed to `[K, N]` for the GEMM, with biases pre-summed, plus a reusable workspace. */
export class JsPreparedWeights implements PreparedWeights {
  readonly backend = 'js';
  readonly mode: RecurrentMode;
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly outputSize: number;
  readonly gates: number;
  /** `[inputSize, G*H]` */
  wIhT: Float32Array;
  /** `[outputSize, G*H]` */
  wHhT: Float32Array;
  /** `[G*H]`: b_ih + b_hh, except GRU's n block which holds b_in only. */
  bias: Float32Array;
  /** GRU only: `[H]` b_hn, applied inside `r * (W_hn h + b_hn)`. */
  bHn: Float32Array | null;
  /** `[H, P]` projection, or null. */
  wHrT: Float32Array | null;
  private workspace = new Float32Array(0);

  constructor(w: RecurrentWeights) {
    const G = gateCount(w.mode);
    const H = w.hiddenSize;
    const P = w.projSize > 0 ? w.projSize : H;
    this.mode = w.mode;
    this.inputSize = w.inputSize;
    this.hiddenSize = H;
    this.outputSize = P;
    this.gates = G;
    this.wIhT = transpose2d(w.weightIh, G * H, w.inputSize);
    this.wHhT = transpose2d(w.weightHh, G * H, P);
    this.bias = new Float32Array(G * H);
    this.bHn = w.mode === 'gru' ? new Float32Array(H) : null;
    const sumUpTo = w.mode === 'gru' ? 2 * H : G * H;
    for (let j = 0; j < G * H; j++) {
      const bi = w.biasIh ? w.biasIh[j]! : 0;
      const bh = w.biasHh ? w.biasHh[j]! : 0;
      this.bias[j] = j < sumUpTo ? bi + bh : bi;
      if (j >= sumUpTo && this.bHn) this.bHn[j - sumUpTo] = bh;
    }
    this.wHrT = w.projSize > 0 && w.weightHr ? transpose2d(w.weightHr, P, H) : null;
  }

  /** A scratch buffer of at least `size` floats, kept across calls. */
  scratch(size: number): Float32Array {
    if (this.workspace.length < size) this.workspace = new Float32Array(size);
    return this.workspace;
  }

  dispose(): void {
    this.wIhT = new Float32Array(0);
    this.wHhT = new Float32Array(0);
    this.workspace = new Float32Array(0);
  }
}

export function transpose2d(src: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c]!;
  }
  return out;
}

interface Prepared {
  w: JsPreparedWeights;
  T: number;
  B: number;
  GH: number;
  /** `[T*B, G*H]` input projections with bias. */
  gx: Float32Array;
  /** `[B, G*H]` per-step gate buffer. */
  gates: Float32Array;
  h: Float32Array;
}

/** Validates the arguments, allocates the per-call buffers and runs the input projection GEMM. */
function setUp(args: LayerArgs, expected: RecurrentMode | 'rnn', where: string): Prepared {
  const w = args.weights;
  if (!(w instanceof JsPreparedWeights)) {
    throw new ShapeError(`${where}: weights were prepared by backend '${w?.backend}', expected 'js'`);
  }
  if (expected === 'rnn' ? w.mode !== 'rnn_tanh' && w.mode !== 'rnn_relu' : w.mode !== expected) {
    throw new ShapeError(`${where}: weights are for mode '${w.mode}', expected ${expected}`);
  }
  const T = args.seqLen;
  const B = args.batch;
  const I = w.inputSize;
  const P = w.outputSize;
  const GH = w.gates * w.hiddenSize;
  expectLength(where, 'x', args.x, T * B * I);
  if (args.h0) expectLength(where, 'h0', args.h0, B * P);
  expectLength(where, 'hN', args.hN, B * P);
  if (args.out.length < ((T - 1) * B + B - 1) * args.outStride + args.outOffset + P && T * B > 0) {
    throw new ShapeError(`${where}: out has ${args.out.length} values, too few for [${T},${B}] rows of stride ${args.outStride}`);
  }
  if (args.lengths) checkLengths(where, args.lengths, T, B);
  const hiddenExtra = w.wHrT ? B * w.hiddenSize : 0;
  const ws = w.scratch(T * B * GH + B * GH + hiddenExtra);
  const gx = ws.subarray(0, T * B * GH);
  const gates = ws.subarray(T * B * GH, T * B * GH + B * GH);
  gemm(T * B, GH, I, args.x, 0, I, w.wIhT, 0, GH, gx, 0, GH, false);
  const bias = w.bias;
  for (let r = 0, o = 0; r < T * B; r++) {
    for (let j = 0; j < GH; j++, o++) gx[o]! += bias[j]!;
  }
  const h = args.hN;
  if (args.h0) h.set(args.h0);
  else h.fill(0);
  return { w, T, B, GH, gx, gates, h };
}

function expectLength(where: string, name: string, a: Float32Array | null | undefined, n: number): void {
  if (!a || a.length !== n) {
    throw new ShapeError(`${where}: ${name} expected ${n} values, got ${a ? a.length : 'none'}`);
  }
}

function checkLengths(where: string, lengths: Int32Array, T: number, B: number): void {
  if (lengths.length !== B) throw new ShapeError(`${where}: expected ${B} lengths, got ${lengths.length}`);
  for (let b = 0; b < B; b++) {
    const len = lengths[b]!;
    if (len < 1 || len > T || (b > 0 && len > lengths[b - 1]!)) {
      throw new ShapeError(
        `${where}: lengths must be non-increasing and within [1, ${T}], got [${Array.from(lengths).join(',')}]`,
      );
    }
  }
}

/** How many leading batch entries are active at time step t. */
function activeCount(lengths: Int32Array | null | undefined, B: number, t: number): number {
  if (!lengths) return B;
  let nb = B;
  while (nb > 0 && lengths[nb - 1]! <= t) nb--;
  return nb;
}

function writeOutput(args: LayerArgs, t: number, B: number, nb: number, P: number, h: Float32Array): void {
  const { out, outStride, outOffset } = args;
  for (let b = 0; b < B; b++) {
    const o = (t * B + b) * outStride + outOffset;
    if (b < nb) out.set(h.subarray(b * P, b * P + P), o);
    else out.fill(0, o, o + P);
  }
}

export function lstmLayer(args: LayerArgs): void {
  const { w, T, B, GH, gx, gates, h } = setUp(args, 'lstm', 'lstmLayer');
  const H = w.hiddenSize;
  const P = w.outputSize;
  const c = args.cN;
  expectLength('lstmLayer', 'cN', c, B * H);
  if (!c) return;
  if (args.c0) {
    expectLength('lstmLayer', 'c0', args.c0, B * H);
    c.set(args.c0);
  } else c.fill(0);
  const hFull = w.wHrT ? w.scratch(T * B * GH + B * GH + B * H).subarray(T * B * GH + B * GH) : h;
  for (let s = 0; s < T; s++) {
    const t = args.reverse ? T - 1 - s : s;
    const nb = activeCount(args.lengths, B, t);
    if (nb > 0) {
      gates.set(gx.subarray(t * B * GH, (t * B + nb) * GH));
      gemm(nb, GH, P, h, 0, P, w.wHhT, 0, GH, gates, 0, GH, true);
      for (let b = 0; b < nb; b++) {
        const g = b * GH;
        const cb = b * H;
        for (let j = 0; j < H; j++) {
          const ig = sigmoid(gates[g + j]!);
          const fg = sigmoid(gates[g + H + j]!);
          const gg = Math.tanh(gates[g + 2 * H + j]!);
          const og = sigmoid(gates[g + 3 * H + j]!);
          const cv = Math.fround(fg * c[cb + j]! + ig * gg);
          c[cb + j] = cv;
          hFull[cb + j] = og * Math.tanh(cv);
        }
      }
      if (w.wHrT) gemm(nb, P, H, hFull, 0, H, w.wHrT, 0, P, h, 0, P, false);
    }
    writeOutput(args, t, B, nb, P, h);
  }
}

export function gruLayer(args: LayerArgs): void {
  const { w, T, B, GH, gx, gates, h } = setUp(args, 'gru', 'gruLayer');
  const H = w.hiddenSize;
  const bHn = w.bHn!;
  for (let s = 0; s < T; s++) {
    const t = args.reverse ? T - 1 - s : s;
    const nb = activeCount(args.lengths, B, t);
    if (nb > 0) {
      gemm(nb, GH, H, h, 0, H, w.wHhT, 0, GH, gates, 0, GH, false);
      for (let b = 0; b < nb; b++) {
        const x = (t * B + b) * GH;
        const g = b * GH;
        const hb = b * H;
        for (let j = 0; j < H; j++) {
          const r = sigmoid(gx[x + j]! + gates[g + j]!);
          const z = sigmoid(gx[x + H + j]! + gates[g + H + j]!);
          const n = Math.tanh(gx[x + 2 * H + j]! + r * (gates[g + 2 * H + j]! + bHn[j]!));
          h[hb + j] = (1 - z) * n + z * h[hb + j]!;
        }
      }
    }
    writeOutput(args, t, B, nb, H, h);
  }
}

export function rnnLayer(args: LayerArgs): void {
  const { w, T, B, GH, gx, gates, h } = setUp(args, 'rnn', 'rnnLayer');
  const H = w.hiddenSize;
  const useRelu = w.mode === 'rnn_relu';
  for (let s = 0; s < T; s++) {
    const t = args.reverse ? T - 1 - s : s;
    const nb = activeCount(args.lengths, B, t);
    if (nb > 0) {
      gates.set(gx.subarray(t * B * GH, (t * B + nb) * GH));
      gemm(nb, H, H, h, 0, H, w.wHhT, 0, H, gates, 0, H, true);
      for (let i = 0; i < nb * H; i++) h[i] = useRelu ? relu(gates[i]!) : Math.tanh(gates[i]!);
    }
    writeOutput(args, t, B, nb, H, h);
  }
}
