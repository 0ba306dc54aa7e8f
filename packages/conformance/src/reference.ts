// A step-by-step recurrent layer composed only of a backend's primitives (matmul, binary, unary),
// straight from PyTorch's equations. The fused kernels must agree with it.

import { type Backend, type RecurrentWeights, gateCount } from '@recur/core-tensor';

export interface ReferenceResult {
  out: Float32Array;
  hN: Float32Array;
  cN: Float32Array | null;
}

function slice(a: Float32Array, row: number, rows: number, width: number): Float32Array {
  return a.slice(row * width, (row + rows) * width);
}

/** Columns [from, from+n) of a [rows, width] matrix. */
function cols(a: Float32Array, rows: number, width: number, from: number, n: number): Float32Array {
  const out = new Float32Array(rows * n);
  for (let r = 0; r < rows; r++) out.set(a.subarray(r * width + from, r * width + from + n), r * n);
  return out;
}

export function referenceLayer(
  be: Backend,
  w: RecurrentWeights,
  x: Float32Array,
  T: number,
  B: number,
  h0: Float32Array | null,
  c0: Float32Array | null,
  reverse: boolean,
  lengths: number[] | null,
): ReferenceResult {
  const H = w.hiddenSize;
  const P = w.projSize > 0 ? w.projSize : H;
  const G = gateCount(w.mode);
  const I = w.inputSize;
  const out = new Float32Array(T * B * P);
  const hN = new Float32Array(B * P);
  const cN = w.mode === 'lstm' ? new Float32Array(B * H) : null;
  const zerosGH = new Float32Array(G * H);
  // Each batch entry separately, so per-sequence lengths need no masking.
  for (let b = 0; b < B; b++) {
    const len = lengths ? lengths[b]! : T;
    let h = h0 ? slice(h0, b, 1, P) : new Float32Array(P);
    let c = c0 ? slice(c0, b, 1, H) : new Float32Array(H);
    for (let s = 0; s < len; s++) {
      const t = reverse ? len - 1 - s : s;
      const xt = slice(x, t * B + b, 1, I);
      const gi = be.binary('add', be.matmul(xt, w.weightIh, 1, I, G * H, { transB: true }), w.biasIh ?? zerosGH);
      const gh = be.binary('add', be.matmul(h, w.weightHh, 1, P, G * H, { transB: true }), w.biasHh ?? zerosGH);
      const part = (g: Float32Array, k: number) => cols(g, 1, G * H, k * H, H);
      if (w.mode === 'lstm') {
        const sum = be.binary('add', gi, gh);
        const i = be.unary('sigmoid', part(sum, 0));
        const f = be.unary('sigmoid', part(sum, 1));
        const g = be.unary('tanh', part(sum, 2));
        const o = be.unary('sigmoid', part(sum, 3));
        c = be.binary('add', be.binary('mul', f, c), be.binary('mul', i, g));
        const hFull = be.binary('mul', o, be.unary('tanh', c));
        h = w.weightHr ? be.matmul(hFull, w.weightHr, 1, H, P, { transB: true }) : hFull;
      } else if (w.mode === 'gru') {
        const r = be.unary('sigmoid', be.binary('add', part(gi, 0), part(gh, 0)));
        const z = be.unary('sigmoid', be.binary('add', part(gi, 1), part(gh, 1)));
        const n = be.unary('tanh', be.binary('add', part(gi, 2), be.binary('mul', r, part(gh, 2))));
        const oneMinusZ = be.binary('sub', new Float32Array(H).fill(1), z);
        h = be.binary('add', be.binary('mul', oneMinusZ, n), be.binary('mul', z, h));
      } else {
        h = be.unary(w.mode === 'rnn_relu' ? 'relu' : 'tanh', be.binary('add', gi, gh));
      }
      out.set(h, (t * B + b) * P);
    }
    hN.set(h, b * P);
    cN?.set(c, b * H);
  }
  return { out, hN, cN };
}
