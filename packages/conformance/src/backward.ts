// Gradient conformance for backends with the `backward` capability: layerBackward after a training
// forward must give the gradients of a fixed linear loss of out, hN and cN with respect to every
// weight, the input and the initial states, as central finite differences of the suite's float64
// reference compute them (step 1e-6 in float64, error about 1e-9). Padded and packed, both
// directions, every mode, projections, no bias, outputs written at an offset.

import { type Backend, BackendError, Generator, type LayerArgs, type RecurrentMode, type RecurrentWeights } from '@recur/core-tensor';
import { describe, expect, it } from 'vitest';
import './allclose.js';
import { batchSizesOf, randomWeights } from './kernels.js';
import { type ReferenceWeights, referenceLayer } from './reference.js';

type Keys = 'weightIh' | 'weightHh' | 'biasIh' | 'biasHh' | 'weightHr';
const KEYS: Keys[] = ['weightIh', 'weightHh', 'biasIh', 'biasHh', 'weightHr'];

function randomArray(g: Generator, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => 2 * g.uniform() - 1);
}

interface Case {
  mode: RecurrentMode;
  I: number;
  H: number;
  proj?: number;
  bias?: boolean;
  reverse?: boolean;
  lengths?: number[];
  state?: boolean;
}

/** The loss the gradients are of: sum(out*gOut) + sum(hN*ghN) + sum(cN*gcN), padding excluded. */
function lossOf(
  w: ReferenceWeights,
  x: ArrayLike<number>,
  h0: ArrayLike<number> | null,
  c0: ArrayLike<number> | null,
  c: Case,
  T: number,
  B: number,
  up: { gOut: Float32Array; ghN: Float32Array; gcN: Float32Array | null },
): number {
  const r = referenceLayer(w, x, T, B, h0, c0, c.reverse ?? false, c.lengths ?? null);
  let s = 0;
  r.out.forEach((v, i) => {
    s += v * up.gOut[i]!;
  });
  r.hN.forEach((v, i) => {
    s += v * up.ghN[i]!;
  });
  r.cN?.forEach((v, i) => {
    s += v * up.gcN![i]!;
  });
  return s;
}

/** Central differences of `loss` with respect to every entry of `v` (float64, modified and restored). */
function numericGradient(v: Float64Array, loss: () => number): Float64Array {
  const g = new Float64Array(v.length);
  const eps = 1e-6;
  for (let i = 0; i < v.length; i++) {
    const keep = v[i]!;
    v[i] = keep + eps;
    const up = loss();
    v[i] = keep - eps;
    const down = loss();
    v[i] = keep;
    g[i] = (up - down) / (2 * eps);
  }
  return g;
}

export function describeBackwardConformance(label: string, getBackend: () => Backend): void {
  describe(`backward conformance: ${label}`, () => {
    const cases: Case[] = [
      { mode: 'lstm', I: 3, H: 4, state: true },
      { mode: 'lstm', I: 3, H: 5, proj: 2, reverse: true, state: true },
      { mode: 'lstm', I: 2, H: 3, bias: false, lengths: [5, 3, 3, 1] },
      { mode: 'lstm', I: 3, H: 4, proj: 3, reverse: true, lengths: [5, 4, 2, 2], state: true },
      { mode: 'gru', I: 3, H: 4, state: true },
      { mode: 'gru', I: 2, H: 3, reverse: true, lengths: [5, 5, 2, 1], state: true },
      { mode: 'gru', I: 3, H: 2, bias: false },
      { mode: 'rnn_tanh', I: 3, H: 4, reverse: true, state: true },
      { mode: 'rnn_relu', I: 3, H: 4, lengths: [5, 2, 2, 1], state: true },
    ];
    for (const c of cases) {
      const name = `${c.mode} I=${c.I} H=${c.H}${c.proj ? ` proj=${c.proj}` : ''}${c.bias === false ? ' no bias' : ''}${c.reverse ? ' reverse' : ''}${c.lengths ? ' packed' : ''}${c.state ? ' h0/c0' : ''}`;
      it(name, () => {
        const be = getBackend();
        const g = new Generator(c.I * 131 + c.H * 7 + (c.reverse ? 1 : 0) + (c.lengths ? 2 : 0));
        const w = randomWeights(g, c.mode, c.I, c.H, c.proj ?? 0, c.bias ?? true);
        const [T, B] = [5, 4];
        const P = c.proj ?? c.H;
        const x = randomArray(g, T * B * c.I);
        const h0 = c.state ? randomArray(g, B * P) : null;
        const c0 = c.state && c.mode === 'lstm' ? randomArray(g, B * c.H) : null;
        const up = {
          gOut: randomArray(g, T * B * P),
          ghN: randomArray(g, B * P),
          gcN: c.mode === 'lstm' ? randomArray(g, B * c.H) : null,
        };
        if (c.lengths) {
          // No gradient flows into padding: zero it in gOut so the reference's padded zeros agree.
          for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) if (t >= c.lengths[b]!) up.gOut.fill(0, (t * B + b) * P, (t * B + b + 1) * P);
        }
        const got = runBackward(be, w, x, T, B, h0, c0, c, up);

        const w64: ReferenceWeights & Record<Keys, Float64Array | null> = {
          ...w,
          weightIh: Float64Array.from(w.weightIh),
          weightHh: Float64Array.from(w.weightHh),
          biasIh: w.biasIh ? Float64Array.from(w.biasIh) : null,
          biasHh: w.biasHh ? Float64Array.from(w.biasHh) : null,
          weightHr: w.weightHr ? Float64Array.from(w.weightHr) : null,
        };
        const x64 = Float64Array.from(x);
        const h64 = h0 ? Float64Array.from(h0) : null;
        const c64 = c0 ? Float64Array.from(c0) : null;
        const loss = () => lossOf(w64, x64, h64, c64, c, T, B, up);
        const tol = { atol: 1e-4, rtol: 1e-4 };
        for (const k of KEYS) {
          const v = w64[k];
          if (v) expect(got.grads[k]!, k).toBeAllclose(numericGradient(v, loss), tol);
        }
        expect(got.dx, 'dx').toBeAllclose(numericGradient(x64, loss), tol);
        if (h64) expect(got.dh0, 'dh0').toBeAllclose(numericGradient(h64, loss), tol);
        if (c64) expect(got.dc0!, 'dc0').toBeAllclose(numericGradient(c64, loss), tol);
      });
    }

    it('refuses a backward without a saved forward, naming what to do', () => {
      const be = getBackend();
      const w = randomWeights(new Generator(3), 'gru', 2, 3);
      const plain = be.createWorkspace();
      const forward = layerArgs(be, w, new Float32Array(2), 1, 1);
      be.layer(forward, plain);
      const grads = { weightIh: new Float32Array(18), weightHh: new Float32Array(27), biasIh: null, biasHh: null, weightHr: null };
      const call = () => be.layerBackward!({ forward, dOut: null, dhN: null, dx: null, dh0: null, grads }, plain);
      expect(call).toThrow(BackendError);
      expect(call).toThrow(/createWorkspace\(\{ training: true \}\)/);
      forward.weights.dispose();
      plain.dispose();
    });
  });
}

function layerArgs(be: Backend, w: RecurrentWeights, x: Float32Array, T: number, B: number, lengths?: number[]): LayerArgs {
  const P = w.projSize > 0 ? w.projSize : w.hiddenSize;
  const sizes = lengths ? batchSizesOf(lengths) : null;
  const rows = sizes ? sizes.reduce((a, b) => a + b, 0) : T * B;
  return {
    weights: be.prepareWeights(w),
    x,
    seqLen: T,
    batch: B,
    h0: null,
    c0: null,
    // Written at offset P of a two-direction buffer, as the reverse half of a bidirectional layer.
    out: new Float32Array(rows * 2 * P),
    outOffset: P,
    outStride: 2 * P,
    hN: new Float32Array(B * P),
    cN: w.mode === 'lstm' ? new Float32Array(B * w.hiddenSize) : null,
    batchSizes: sizes,
  };
}

/** Forward on a training workspace, then layerBackward; padded inputs are packed first with `lengths`. */
function runBackward(
  be: Backend,
  w: RecurrentWeights,
  x: Float32Array,
  T: number,
  B: number,
  h0: Float32Array | null,
  c0: Float32Array | null,
  c: Case,
  up: { gOut: Float32Array; ghN: Float32Array; gcN: Float32Array | null },
) {
  const P = w.projSize > 0 ? w.projSize : w.hiddenSize;
  const I = w.inputSize;
  const sizes = c.lengths ? batchSizesOf(c.lengths) : null;
  const rowsOf: Array<[number, number]> = [];
  for (let t = 0; t < T; t++) for (let b = 0; b < (sizes ? (sizes[t] ?? 0) : B); b++) rowsOf.push([t, b]);
  const xIn = new Float32Array(rowsOf.length * I);
  const dOut = new Float32Array(rowsOf.length * 2 * P);
  rowsOf.forEach(([t, b], r) => {
    xIn.set(x.subarray((t * B + b) * I, (t * B + b + 1) * I), r * I);
    dOut.set(up.gOut.subarray((t * B + b) * P, (t * B + b + 1) * P), r * 2 * P + P);
  });
  const forward = { ...layerArgs(be, w, xIn, T, B, c.lengths), h0, c0, reverse: c.reverse ?? false };
  const ws = be.createWorkspace({ training: true });
  be.layer(forward, ws);
  const grads = {
    weightIh: new Float32Array(w.weightIh.length),
    weightHh: new Float32Array(w.weightHh.length),
    biasIh: w.biasIh ? new Float32Array(w.biasIh.length) : null,
    biasHh: w.biasHh ? new Float32Array(w.biasHh.length) : null,
    weightHr: w.weightHr ? new Float32Array(w.weightHr.length) : null,
  };
  const dxRows = new Float32Array(xIn.length);
  const dh0 = new Float32Array(B * P);
  const dc0 = w.mode === 'lstm' ? new Float32Array(B * w.hiddenSize) : null;
  be.layerBackward!({ forward, dOut, dhN: up.ghN, dcN: up.gcN, dx: dxRows, dh0, dc0, grads }, ws);
  const dx = new Float32Array(T * B * I);
  rowsOf.forEach(([t, b], r) => {
    dx.set(dxRows.subarray(r * I, (r + 1) * I), (t * B + b) * I);
  });
  forward.weights.dispose();
  ws.dispose();
  return { grads, dx, dh0, dc0 };
}
