// Fused whole-layer recurrent kernels. One GEMM projects the inputs of every row at once, then each
// step runs one recurrent GEMM over the active rows and applies the gates in place, writing straight
// into the caller's output buffer. Scratch buffers live on the prepared weights, so a call in steady
// state (e.g. streaming one frame at a time) allocates nothing.

import {
  type LayerArgs,
  type PreparedWeights,
  type RecurrentMode,
  type RecurrentWeights,
  ShapeError,
  checkLayerArgs,
  gateCount,
} from '@recur/core-tensor';
import { relu, sigmoid } from './activations.js';
import { gemmPacked, packPanels } from './gemm.js';

/** Weights transposed and packed into 4-column panels for the GEMM, biases pre-summed, plus reusable scratch. */
export class JsPreparedWeights implements PreparedWeights {
  readonly backend = 'js';
  readonly mode: RecurrentMode;
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly outputSize: number;
  /** Gate blocks stacked in the weights: 4 (LSTM), 3 (GRU) or 1 (RNN). */
  readonly gateCount: number;
  /** W_ih^T `[inputSize, G*H]`, packed by `packPanels`. */
  wIhT: Float32Array;
  /** W_hh^T `[outputSize, G*H]`, packed. */
  wHhT: Float32Array;
  /** `[G*H]`: b_ih + b_hh, except GRU's n block which holds b_in only. */
  bias: Float32Array;
  /** GRU only: `[H]` b_hn, applied inside `r * (W_hn h + b_hn)`. */
  bHn: Float32Array;
  /** W_hr^T `[H, P]`, packed, or null. */
  wHrT: Float32Array | null;
  /** `[rows, G*H]` input projections of the current call. */
  gx = new Float32Array(0);
  /** `[B, G*H]` recurrent gate pre-activations of one step. */
  gates = new Float32Array(0);
  /** `[B, H]` LSTM output before the projection. */
  hFull = new Float32Array(0);
  /** Input rows of the current call, as `checkLayerArgs` counted them. */
  rows = 0;

  constructor(w: RecurrentWeights) {
    const G = gateCount(w.mode);
    const H = w.hiddenSize;
    const P = w.projSize > 0 ? w.projSize : H;
    this.mode = w.mode;
    this.inputSize = w.inputSize;
    this.hiddenSize = H;
    this.outputSize = P;
    this.gateCount = G;
    this.wIhT = packPanels(w.weightIh, w.inputSize, G * H, 1, w.inputSize);
    this.wHhT = packPanels(w.weightHh, P, G * H, 1, P);
    this.bias = new Float32Array(G * H);
    this.bHn = new Float32Array(w.mode === 'gru' ? H : 0);
    const summed = w.mode === 'gru' ? 2 * H : G * H;
    for (let j = 0; j < G * H; j++) {
      const bi = w.biasIh ? w.biasIh[j]! : 0;
      const bh = w.biasHh ? w.biasHh[j]! : 0;
      if (j < summed) this.bias[j] = bi + bh;
      else {
        this.bias[j] = bi;
        this.bHn[j - summed] = bh;
      }
    }
    this.wHrT = w.projSize > 0 && w.weightHr ? packPanels(w.weightHr, H, P, 1, H) : null;
  }

  /** Grows the scratch buffers to fit `rows` input rows and a batch of `batch` (never shrinks). */
  reserve(rows: number, batch: number): void {
    const GH = this.gateCount * this.hiddenSize;
    if (this.gx.length < rows * GH) this.gx = new Float32Array(rows * GH);
    if (this.gates.length < batch * GH) this.gates = new Float32Array(batch * GH);
    if (this.wHrT && this.hFull.length < batch * this.hiddenSize) this.hFull = new Float32Array(batch * this.hiddenSize);
  }

  dispose(): void {
    this.wIhT = new Float32Array(0);
    this.wHhT = new Float32Array(0);
    this.gx = new Float32Array(0);
    this.gates = new Float32Array(0);
    this.hFull = new Float32Array(0);
  }
}

/**
 * Validates the arguments, sizes the scratch buffers, projects every input row (with bias) into
 * `w.gx` and loads `h0` into `hN`. Returns the weights, known to be the js backend's.
 */
function setUp(args: LayerArgs, where: string, modeOk: (m: RecurrentMode) => boolean): JsPreparedWeights {
  const w = args.weights;
  if (!(w instanceof JsPreparedWeights)) {
    throw new ShapeError(`${where}: weights were prepared by backend '${w?.backend}', expected 'js'`);
  }
  if (!modeOk(w.mode)) throw new ShapeError(`${where}: weights are for mode '${w.mode}'`);
  const rows = checkLayerArgs(args, where);
  w.rows = rows;
  const I = w.inputSize;
  const GH = w.gateCount * w.hiddenSize;
  w.reserve(rows, args.batch);
  const gx = w.gx;
  gemmPacked(rows, GH, I, args.x, 0, I, w.wIhT, gx, 0, GH, false);
  const bias = w.bias;
  for (let r = 0, o = 0; r < rows; r++) {
    for (let j = 0; j < GH; j++, o++) gx[o]! += bias[j]!;
  }
  if (args.h0) {
    if (args.h0 !== args.hN) args.hN.set(args.h0);
  } else args.hN.fill(0);
  return w;
}

// Module-level predicates: a closure per call would be the only allocation of a streaming step.
const isLstm = (m: RecurrentMode) => m === 'lstm';
const isGru = (m: RecurrentMode) => m === 'gru';
const isRnn = (m: RecurrentMode) => m === 'rnn_tanh' || m === 'rnn_relu';

/** Row offsets and counts of step t, for the padded or packed layout. */
interface StepCursor {
  /** First input/output row of step t. */
  row: number;
  /** Active rows at step t. */
  n: number;
}

/** Positions the cursor on step s of the iteration (s-th step in time order, reversed if asked). */
function stepAt(args: LayerArgs, s: number, cursor: StepCursor, rowsTotal: number): void {
  const T = args.seqLen;
  const sizes = args.batchSizes;
  const t = args.reverse ? T - 1 - s : s;
  if (!sizes) {
    cursor.row = t * args.batch;
    cursor.n = args.batch;
  } else if (args.reverse) {
    cursor.n = sizes[t]!;
    cursor.row = s === 0 ? rowsTotal - cursor.n : cursor.row - cursor.n;
  } else {
    cursor.row = s === 0 ? 0 : cursor.row + cursor.n;
    cursor.n = sizes[t]!;
  }
}

function writeRows(args: LayerArgs, row: number, n: number, P: number, h: Float32Array): void {
  const { out, outStride, outOffset } = args;
  for (let b = 0; b < n; b++) {
    const o = (row + b) * outStride + outOffset;
    const src = b * P;
    for (let j = 0; j < P; j++) out[o + j] = h[src + j]!;
  }
}

const cursorLstm: StepCursor = { row: 0, n: 0 };

export function lstmLayer(args: LayerArgs): void {
  const w = setUp(args, 'lstmLayer', isLstm);
  const H = w.hiddenSize;
  const P = w.outputSize;
  const GH = 4 * H;
  const c = args.cN!;
  if (args.c0) {
    if (args.c0 !== c) c.set(args.c0);
  } else c.fill(0);
  const { gx, gates } = w;
  const h = args.hN;
  const hFull = w.wHrT ? w.hFull : h;
  const rows = w.rows;
  const cur = cursorLstm;
  for (let s = 0; s < args.seqLen; s++) {
    stepAt(args, s, cur, rows);
    const nb = cur.n;
    for (let i = 0, src = cur.row * GH; i < nb * GH; i++, src++) gates[i] = gx[src]!;
    gemmPacked(nb, GH, P, h, 0, P, w.wHhT, gates, 0, GH, true);
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
    if (w.wHrT) gemmPacked(nb, P, H, hFull, 0, H, w.wHrT, h, 0, P, false);
    writeRows(args, cur.row, nb, P, h);
  }
}

const cursorGru: StepCursor = { row: 0, n: 0 };

export function gruLayer(args: LayerArgs): void {
  const w = setUp(args, 'gruLayer', isGru);
  const H = w.hiddenSize;
  const GH = 3 * H;
  const { gx, gates, bHn } = w;
  const h = args.hN;
  const rows = w.rows;
  const cur = cursorGru;
  for (let s = 0; s < args.seqLen; s++) {
    stepAt(args, s, cur, rows);
    const nb = cur.n;
    gemmPacked(nb, GH, H, h, 0, H, w.wHhT, gates, 0, GH, false);
    for (let b = 0; b < nb; b++) {
      const x = (cur.row + b) * GH;
      const g = b * GH;
      const hb = b * H;
      for (let j = 0; j < H; j++) {
        const r = sigmoid(gx[x + j]! + gates[g + j]!);
        const z = sigmoid(gx[x + H + j]! + gates[g + H + j]!);
        const n = Math.tanh(gx[x + 2 * H + j]! + r * (gates[g + 2 * H + j]! + bHn[j]!));
        h[hb + j] = (1 - z) * n + z * h[hb + j]!;
      }
    }
    writeRows(args, cur.row, nb, H, h);
  }
}

const cursorRnn: StepCursor = { row: 0, n: 0 };

export function rnnLayer(args: LayerArgs): void {
  const w = setUp(args, 'rnnLayer', isRnn);
  const H = w.hiddenSize;
  const { gx, gates } = w;
  const h = args.hN;
  const useRelu = w.mode === 'rnn_relu';
  const rows = w.rows;
  const cur = cursorRnn;
  for (let s = 0; s < args.seqLen; s++) {
    stepAt(args, s, cur, rows);
    const nb = cur.n;
    for (let i = 0, src = cur.row * H; i < nb * H; i++, src++) gates[i] = gx[src]!;
    gemmPacked(nb, H, H, h, 0, H, w.wHhT, gates, 0, H, true);
    for (let i = 0; i < nb * H; i++) h[i] = useRelu ? relu(gates[i]!) : Math.tanh(gates[i]!);
    writeRows(args, cur.row, nb, H, h);
  }
}
