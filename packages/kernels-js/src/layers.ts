// Fused whole-layer recurrent kernel: one GEMM projects the inputs of every row at once, then each
// step runs one recurrent GEMM over the active rows and applies the gates in place, writing straight
// into the caller's output buffer. Scratch lives in the caller's workspace, so a call in steady state
// (e.g. streaming one frame at a time) allocates nothing and the kernel keeps no state of its own.

import {
  BackendError,
  type LayerArgs,
  type PreparedWeights,
  type RecurrentMode,
  type RecurrentWeights,
  type StepCursor,
  type Workspace,
  type WorkspaceOptions,
  advanceStep,
  checkLayerArgs,
  foldBiases,
  gateCount,
} from '@recur/core-tensor';
import { relu, sigmoid } from './activations.js';
import { gemmPacked, packPanels } from './gemm.js';

/** Weights transposed and packed into 4-column panels for the GEMM, biases folded. Immutable. */
export class JsPreparedWeights implements PreparedWeights {
  readonly backend = 'js';
  readonly mode: RecurrentMode;
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly outputSize: number;
  /** Gate blocks stacked in the weights: 4 (LSTM), 3 (GRU) or 1 (RNN). */
  readonly gateCount: number;
  /** W_ih^T `[inputSize, G*H]`, packed by `packPanels`. */
  readonly wIhT: Float32Array;
  /** W_hh^T `[outputSize, G*H]`, packed. */
  readonly wHhT: Float32Array;
  /** `[G*H]`: b_ih + b_hh, except GRU's n block which holds b_in only. */
  readonly bias: Float32Array;
  /** GRU only: `[H]` b_hn, applied inside `r * (W_hn h + b_hn)`. */
  readonly bHn: Float32Array;
  /** W_hr^T `[H, P]`, packed, or null. */
  readonly wHrT: Float32Array | null;
  /** The weights as given, in PyTorch's layout (read by the backward pass). */
  readonly source: RecurrentWeights;
  #disposed = false;

  constructor(w: RecurrentWeights) {
    this.source = w;
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
    foldBiases(w.mode, H, w.biasIh, w.biasHh, this.bias, this.bHn);
    this.wHrT = w.projSize > 0 && w.weightHr ? packPanels(w.weightHr, H, P, 1, H) : null;
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  dispose(): void {
    this.#disposed = true;
  }
}

/** The js backend's per-call state: scratch that grows to the largest call and a step cursor. */
export class JsWorkspace implements Workspace {
  readonly backend = 'js';
  readonly training: boolean;
  /** `[rows, G*H]` input projections of the current call. */
  gx = new Float32Array(0);
  /** `[B, G*H]` recurrent gate pre-activations of one step. */
  gates = new Float32Array(0);
  /** `[B, H]` LSTM output before the projection. */
  hFull = new Float32Array(0);
  /** The step being run. */
  readonly cursor: StepCursor = { row: 0, n: 0 };
  // The reserve of a training workspace: what the last forward saved for layerBackward, per input row.
  /** Gates after their nonlinearity: LSTM i,f,g,o; GRU r,z,n and W_hn h + b_hn (`[rows, 4H]`). */
  acts = new Float32Array(0);
  /** LSTM cell states `[rows, H]`. */
  cs = new Float32Array(0);
  /** Hidden states `[rows, P]`, as output before anything (dropout) touches the output buffer. */
  hs = new Float32Array(0);
  /** LSTM hidden states before the projection `[rows, H]`. */
  hFulls = new Float32Array(0);
  /** The arguments of the forward call the reserve holds. */
  savedFor: LayerArgs | null = null;
  #disposed = false;

  constructor(options: WorkspaceOptions = {}) {
    this.training = options.training ?? false;
  }

  /** Grows the scratch to fit `rows` input rows and a batch of `batch` for weights `w` (never shrinks). */
  reserve(w: JsPreparedWeights, rows: number, batch: number): void {
    const GH = w.gateCount * w.hiddenSize;
    if (this.gx.length < rows * GH) this.gx = new Float32Array(rows * GH);
    if (this.gates.length < batch * GH) this.gates = new Float32Array(batch * GH);
    if (w.wHrT && this.hFull.length < batch * w.hiddenSize) this.hFull = new Float32Array(batch * w.hiddenSize);
    if (!this.training) return;
    const H = w.hiddenSize;
    const actsWidth = w.mode === 'lstm' || w.mode === 'gru' ? 4 * H : 0;
    if (this.acts.length < rows * actsWidth) this.acts = new Float32Array(rows * actsWidth);
    if (w.mode === 'lstm' && this.cs.length < rows * H) this.cs = new Float32Array(rows * H);
    if (this.hs.length < rows * w.outputSize) this.hs = new Float32Array(rows * w.outputSize);
    if (w.wHrT && this.hFulls.length < rows * H) this.hFulls = new Float32Array(rows * H);
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  dispose(): void {
    this.#disposed = true;
    this.gx = new Float32Array(0);
    this.gates = new Float32Array(0);
    this.hFull = new Float32Array(0);
    this.acts = new Float32Array(0);
    this.cs = new Float32Array(0);
    this.hs = new Float32Array(0);
    this.hFulls = new Float32Array(0);
    this.savedFor = null;
  }
}

/** One direction of one layer over a sequence, for every mode. */
export function layer(args: LayerArgs, workspace: Workspace): void {
  const rows = checkLayerArgs(args, workspace, 'js');
  const w = args.weights;
  if (!(w instanceof JsPreparedWeights) || !(workspace instanceof JsWorkspace)) {
    throw new BackendError('js.layer: weights or workspace were made by another copy of the js backend');
  }
  workspace.reserve(w, rows, args.batch);
  project(args, w, workspace.gx, rows);
  if (args.h0) {
    if (args.h0 !== args.hN) args.hN.set(args.h0);
  } else args.hN.fill(0);
  workspace.savedFor = null;
  if (w.mode === 'lstm') lstmSteps(args, w, workspace, rows);
  else if (w.mode === 'gru') gruSteps(args, w, workspace, rows);
  else rnnSteps(args, w, workspace, rows);
  if (workspace.training) workspace.savedFor = args;
}

/** gx[r, :] = x[r, :] W_ih^T + bias for every input row. */
function project(args: LayerArgs, w: JsPreparedWeights, gx: Float32Array, rows: number): void {
  const GH = w.gateCount * w.hiddenSize;
  gemmPacked(rows, GH, w.inputSize, args.x, 0, w.inputSize, w.wIhT, gx, 0, GH, false);
  const bias = w.bias;
  for (let r = 0, o = 0; r < rows; r++) {
    for (let j = 0; j < GH; j++, o++) gx[o]! += bias[j]!;
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

/** Keeps one step's hidden states (and LSTM's pre-projection ones) in the reserve. */
function saveRows(ws: JsWorkspace, row: number, n: number, P: number, h: Float32Array, hFull: Float32Array | null, H: number): void {
  ws.hs.set(h.subarray(0, n * P), row * P);
  if (hFull) ws.hFulls.set(hFull.subarray(0, n * H), row * H);
}

function lstmSteps(args: LayerArgs, w: JsPreparedWeights, ws: JsWorkspace, rows: number): void {
  const H = w.hiddenSize;
  const P = w.outputSize;
  const GH = 4 * H;
  const c = args.cN!;
  if (args.c0) {
    if (args.c0 !== c) c.set(args.c0);
  } else c.fill(0);
  const { gx, gates, cursor, acts, cs } = ws;
  const save = ws.training;
  const h = args.hN;
  const hFull = w.wHrT ? ws.hFull : h;
  for (let s = 0; s < args.seqLen; s++) {
    advanceStep(cursor, s, args.seqLen, args.batch, rows, args.batchSizes, args.reverse === true);
    const nb = cursor.n;
    for (let i = 0, src = cursor.row * GH; i < nb * GH; i++, src++) gates[i] = gx[src]!;
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
        if (save) {
          const a = (cursor.row + b) * GH + j;
          acts[a] = ig;
          acts[a + H] = fg;
          acts[a + 2 * H] = gg;
          acts[a + 3 * H] = og;
          cs[(cursor.row + b) * H + j] = cv;
        }
      }
    }
    if (w.wHrT) gemmPacked(nb, P, H, hFull, 0, H, w.wHrT, h, 0, P, false);
    writeRows(args, cursor.row, nb, P, h);
    if (save) saveRows(ws, cursor.row, nb, P, h, w.wHrT ? hFull : null, H);
  }
}

function gruSteps(args: LayerArgs, w: JsPreparedWeights, ws: JsWorkspace, rows: number): void {
  const H = w.hiddenSize;
  const GH = 3 * H;
  const { gx, gates, cursor, acts } = ws;
  const save = ws.training;
  const bHn = w.bHn;
  const h = args.hN;
  for (let s = 0; s < args.seqLen; s++) {
    advanceStep(cursor, s, args.seqLen, args.batch, rows, args.batchSizes, args.reverse === true);
    const nb = cursor.n;
    gemmPacked(nb, GH, H, h, 0, H, w.wHhT, gates, 0, GH, false);
    for (let b = 0; b < nb; b++) {
      const x = (cursor.row + b) * GH;
      const g = b * GH;
      const hb = b * H;
      for (let j = 0; j < H; j++) {
        const r = sigmoid(gx[x + j]! + gates[g + j]!);
        const z = sigmoid(gx[x + H + j]! + gates[g + H + j]!);
        const hn = gates[g + 2 * H + j]! + bHn[j]!;
        const n = Math.tanh(gx[x + 2 * H + j]! + r * hn);
        h[hb + j] = (1 - z) * n + z * h[hb + j]!;
        if (save) {
          const a = (cursor.row + b) * 4 * H + j;
          acts[a] = r;
          acts[a + H] = z;
          acts[a + 2 * H] = n;
          acts[a + 3 * H] = hn;
        }
      }
    }
    writeRows(args, cursor.row, nb, H, h);
    if (save) saveRows(ws, cursor.row, nb, H, h, null, H);
  }
}

function rnnSteps(args: LayerArgs, w: JsPreparedWeights, ws: JsWorkspace, rows: number): void {
  const H = w.hiddenSize;
  const { gx, gates, cursor } = ws;
  const h = args.hN;
  const useRelu = w.mode === 'rnn_relu';
  for (let s = 0; s < args.seqLen; s++) {
    advanceStep(cursor, s, args.seqLen, args.batch, rows, args.batchSizes, args.reverse === true);
    const nb = cursor.n;
    for (let i = 0, src = cursor.row * H; i < nb * H; i++, src++) gates[i] = gx[src]!;
    gemmPacked(nb, H, H, h, 0, H, w.wHhT, gates, 0, H, true);
    for (let i = 0; i < nb * H; i++) h[i] = useRelu ? relu(gates[i]!) : Math.tanh(gates[i]!);
    writeRows(args, cursor.row, nb, H, h);
    if (ws.training) saveRows(ws, cursor.row, nb, H, h, null, H);
  }
}
