// A deliberately simple backend written only from the README's "Writing a backend": plain loops in
// float64, no packing, no SIMD. It shows the contract is enough to add a backend without touching any
// other package, and it runs the same conformance suite as js and wasm.

import {
  BACKEND_INTERFACE_VERSION,
  type Backend,
  BackendError,
  type LayerArgs,
  type PreparedWeights,
  type RecurrentMode,
  type RecurrentWeights,
  type Workspace,
  advanceStep,
  checkLayerArgs,
  checkMatmulArgs,
  foldBiases,
  gateCount,
  outArray,
} from '@recur/core-tensor';

const NAME = 'float64';

interface F64Weights extends PreparedWeights {
  wIh: Float64Array;
  wHh: Float64Array;
  bias: Float64Array;
  bHn: Float64Array;
  wHr: Float64Array | null;
}

interface F64Workspace extends Workspace {
  cursor: { row: number; n: number };
}

function prepareWeights(w: RecurrentWeights): F64Weights {
  const G = gateCount(w.mode);
  const H = w.hiddenSize;
  const bias = new Float32Array(G * H);
  const bHn = new Float32Array(H);
  foldBiases(w.mode, H, w.biasIh, w.biasHh, bias, w.mode === 'gru' ? bHn : null);
  let disposed = false;
  return {
    backend: NAME,
    mode: w.mode,
    inputSize: w.inputSize,
    hiddenSize: H,
    outputSize: w.projSize > 0 ? w.projSize : H,
    wIh: Float64Array.from(w.weightIh),
    wHh: Float64Array.from(w.weightHh),
    bias: Float64Array.from(bias),
    bHn: Float64Array.from(bHn),
    wHr: w.weightHr ? Float64Array.from(w.weightHr) : null,
    get disposed() {
      return disposed;
    },
    dispose() {
      disposed = true;
    },
  };
}

function createWorkspace(options: { training?: boolean } = {}): F64Workspace {
  let disposed = false;
  return {
    backend: NAME,
    training: options.training ?? false,
    cursor: { row: 0, n: 0 },
    get disposed() {
      return disposed;
    },
    dispose() {
      disposed = true;
    },
  };
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/** `W[rows, cols] v` for row `r`, in float64. */
function dot(W: Float64Array, cols: number, r: number, v: ArrayLike<number>, v0: number): number {
  let s = 0;
  for (let k = 0; k < cols; k++) s += W[r * cols + k]! * v[v0 + k]!;
  return s;
}

function cellStep(mode: RecurrentMode, w: F64Weights, x: Float32Array, x0: number, h: Float64Array, c: Float64Array): Float64Array<ArrayBufferLike> {
  const H = w.hiddenSize;
  const P = w.outputSize;
  const GH = gateCount(mode) * H;
  const gi = new Float64Array(GH);
  const gh = new Float64Array(GH);
  for (let r = 0; r < GH; r++) {
    gi[r] = dot(w.wIh, w.inputSize, r, x, x0) + w.bias[r]!;
    gh[r] = dot(w.wHh, P, r, h, 0);
  }
  if (mode === 'lstm') {
    const full = new Float64Array(H);
    for (let j = 0; j < H; j++) {
      const i = sigmoid(gi[j]! + gh[j]!);
      const f = sigmoid(gi[H + j]! + gh[H + j]!);
      const g = Math.tanh(gi[2 * H + j]! + gh[2 * H + j]!);
      const o = sigmoid(gi[3 * H + j]! + gh[3 * H + j]!);
      c[j] = f * c[j]! + i * g;
      full[j] = o * Math.tanh(c[j]!);
    }
    if (!w.wHr) return full;
    return Float64Array.from({ length: P }, (_, p) => dot(w.wHr!, H, p, full, 0));
  }
  if (mode === 'gru') {
    return Float64Array.from({ length: H }, (_, j) => {
      const r = sigmoid(gi[j]! + gh[j]!);
      const z = sigmoid(gi[H + j]! + gh[H + j]!);
      const n = Math.tanh(gi[2 * H + j]! + r * (gh[2 * H + j]! + w.bHn[j]!));
      return (1 - z) * n + z * h[j]!;
    });
  }
  const act = mode === 'rnn_relu' ? (v: number) => (v > 0 || Number.isNaN(v) ? v : 0) : Math.tanh;
  return Float64Array.from({ length: H }, (_, j) => act(gi[j]! + gh[j]!));
}

function layer(args: LayerArgs, workspace: Workspace): void {
  const rows = checkLayerArgs(args, workspace, NAME);
  const w = args.weights as F64Weights;
  const ws = workspace as F64Workspace;
  if (!(w.wIh instanceof Float64Array) || !ws.cursor) throw new BackendError(`${NAME}.layer: weights or workspace of another kind`);
  const B = args.batch;
  const H = w.hiddenSize;
  const P = w.outputSize;
  const hs: Float64Array<ArrayBufferLike>[] = Array.from({ length: B }, (_, b) => Float64Array.from(args.h0 ? args.h0.subarray(b * P, (b + 1) * P) : new Float32Array(P)));
  const cs = Array.from({ length: B }, (_, b) => Float64Array.from(args.c0 ? args.c0.subarray(b * H, (b + 1) * H) : new Float32Array(H)));
  for (let s = 0; s < args.seqLen; s++) {
    advanceStep(ws.cursor, s, args.seqLen, B, rows, args.batchSizes, args.reverse === true);
    const { row, n } = ws.cursor;
    for (let b = 0; b < n; b++) {
      hs[b] = cellStep(w.mode, w, args.x, (row + b) * w.inputSize, hs[b]!, cs[b]!);
      args.out.set(hs[b]!, (row + b) * args.outStride + args.outOffset);
    }
  }
  for (let b = 0; b < B; b++) {
    args.hN.set(hs[b]!, b * P);
    if (args.cN) args.cN.set(cs[b]!, b * H);
  }
}

function matmul(a: Float32Array, b: Float32Array, m: number, k: number, n: number, options: { transB?: boolean; out?: Float32Array; accumulate?: boolean } = {}) {
  checkMatmulArgs(a, b, m, k, n, options.transB ?? false);
  const out = outArray('matmul', options.out, m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = options.accumulate ? out[i * n + j]! : 0;
      for (let p = 0; p < k; p++) s += a[i * k + p]! * (options.transB ? b[j * k + p]! : b[p * n + j]!);
      out[i * n + j] = s;
    }
  }
  return out;
}

/** The float64 backend. */
export const float64Backend: Backend = {
  name: NAME,
  priority: 0,
  interfaceVersion: BACKEND_INTERFACE_VERSION,
  capabilities: {},
  init: async () => {},
  matmul,
  prepareWeights,
  createWorkspace,
  layer,
};
