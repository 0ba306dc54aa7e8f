// The conformance suite's own reference: one direction of one recurrent layer in float64, written
// straight from PyTorch's equations, one sequence at a time with plain loops. It uses no backend and
// no recur kernel, so a backend is never checked against its own primitives.

import { type RecurrentWeights, gateCount } from '@recur/core-tensor';

/** `RecurrentWeights` with any numeric arrays (float64 for finite differences). */
export type ReferenceWeights = Omit<RecurrentWeights, 'weightIh' | 'weightHh' | 'biasIh' | 'biasHh' | 'weightHr'> & {
  weightIh: ArrayLike<number>;
  weightHh: ArrayLike<number>;
  biasIh: ArrayLike<number> | null;
  biasHh: ArrayLike<number> | null;
  weightHr: ArrayLike<number> | null;
};

export interface ReferenceResult {
  /** `[T, B, P]`; padding steps (past a sequence's length) stay 0. */
  out: Float64Array;
  hN: Float64Array;
  cN: Float64Array | null;
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
const relu = (v: number) => (v > 0 || Number.isNaN(v) ? v : 0);

/** `W[rows, cols] v + b` in float64, for rows [row0, row0 + n). */
function affine(W: ArrayLike<number>, cols: number, v: ArrayLike<number>, b: ArrayLike<number> | null, row0: number, n: number): number[] {
  const y = new Array<number>(n);
  for (let r = 0; r < n; r++) {
    let s = b ? b[row0 + r]! : 0;
    for (let k = 0; k < cols; k++) s += W[(row0 + r) * cols + k]! * v[k]!;
    y[r] = s;
  }
  return y;
}

/**
 * Runs `x` (`[T, B, I]`, time-major) through one layer direction. With `lengths`, sequence `b` runs
 * over its first `lengths[b]` steps only (reversed within them when `reverse`), as packed input does.
 */
export function referenceLayer(
  w: ReferenceWeights,
  x: ArrayLike<number>,
  T: number,
  B: number,
  h0: ArrayLike<number> | null,
  c0: ArrayLike<number> | null,
  reverse: boolean,
  lengths: number[] | null,
): ReferenceResult {
  const H = w.hiddenSize;
  const P = w.projSize > 0 ? w.projSize : H;
  const GH = gateCount(w.mode) * H;
  const I = w.inputSize;
  const out = new Float64Array(T * B * P);
  const hN = new Float64Array(B * P);
  const cN = w.mode === 'lstm' ? new Float64Array(B * H) : null;
  for (let b = 0; b < B; b++) {
    const len = lengths ? lengths[b]! : T;
    let h = Array.from({ length: P }, (_, j) => (h0 ? h0[b * P + j]! : 0));
    const c = Array.from({ length: H }, (_, j) => (c0 ? c0[b * H + j]! : 0));
    for (let s = 0; s < len; s++) {
      const t = reverse ? len - 1 - s : s;
      const xt = Array.from({ length: I }, (_, k) => x[(t * B + b) * I + k]!);
      const gi = affine(w.weightIh, I, xt, w.biasIh, 0, GH);
      const gh = affine(w.weightHh, P, h, w.biasHh, 0, GH);
      if (w.mode === 'lstm') {
        const hFull = new Array<number>(H);
        for (let j = 0; j < H; j++) {
          const i = sigmoid(gi[j]! + gh[j]!);
          const f = sigmoid(gi[H + j]! + gh[H + j]!);
          const g = Math.tanh(gi[2 * H + j]! + gh[2 * H + j]!);
          const o = sigmoid(gi[3 * H + j]! + gh[3 * H + j]!);
          c[j] = f * c[j]! + i * g;
          hFull[j] = o * Math.tanh(c[j]!);
        }
        h = w.weightHr ? affine(w.weightHr, H, hFull, null, 0, P) : hFull;
      } else if (w.mode === 'gru') {
        // PyTorch's GRU: n = tanh(W_in x + b_in + r * (W_hn h + b_hn)).
        h = h.map((hj, j) => {
          const r = sigmoid(gi[j]! + gh[j]!);
          const z = sigmoid(gi[H + j]! + gh[H + j]!);
          const n = Math.tanh(gi[2 * H + j]! + r * gh[2 * H + j]!);
          return (1 - z) * n + z * hj;
        });
      } else {
        const act = w.mode === 'rnn_relu' ? relu : Math.tanh;
        h = h.map((_, j) => act(gi[j]! + gh[j]!));
      }
      out.set(h, (t * B + b) * P);
    }
    hN.set(h, b * P);
    cN?.set(c, b * H);
  }
  return { out, hN, cN };
}
