// Kernel conformance: GEMM against a plain reference on odd sizes, and the fused layer kernel of
// every mode against the suite's own float64 reference, with workspaces, disposal and NaN. Every
// backend runs all of it; a third-party backend passes it to be a recur backend.

import {
  type Backend,
  BackendError,
  Generator,
  type LayerArgs,
  type RecurrentMode,
  type RecurrentWeights,
  type Workspace,
  gateCount,
} from '@recur/core-tensor';
import { describe, expect, it } from 'vitest';
import './allclose.js';
import { describeBackwardConformance } from './backward.js';
import { referenceLayer } from './reference.js';

function randomArray(g: Generator, n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (2 * g.uniform() - 1) * scale;
  return a;
}

function naiveMatmul(a: Float32Array, b: Float32Array, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p]! * b[p * n + j]!;
      c[i * n + j] = s;
    }
  return c;
}

export function randomWeights(
  g: Generator,
  mode: RecurrentMode,
  I: number,
  H: number,
  projSize = 0,
  bias = true,
  scale = 0.5,
): RecurrentWeights {
  const G = gateCount(mode);
  const P = projSize > 0 ? projSize : H;
  return {
    mode,
    inputSize: I,
    hiddenSize: H,
    projSize,
    weightIh: randomArray(g, G * H * I, scale),
    weightHh: randomArray(g, G * H * P, scale),
    biasIh: bias ? randomArray(g, G * H, scale) : null,
    biasHh: bias ? randomArray(g, G * H, scale) : null,
    weightHr: projSize > 0 ? randomArray(g, P * H, scale) : null,
  };
}

/**
 * Arguments of one padded layer call of `T` steps and `B` rows on weights `w` prepared as `prepared`:
 * input `x`, zero initial state, and fresh output, hN (and LSTM cN) arrays.
 */
export function paddedLayerArgs(w: RecurrentWeights, prepared: LayerArgs['weights'], x: Float32Array, T: number, B: number): LayerArgs {
  const P = w.projSize > 0 ? w.projSize : w.hiddenSize;
  return {
    weights: prepared,
    x,
    seqLen: T,
    batch: B,
    h0: null,
    c0: null,
    out: new Float32Array(T * B * P),
    outOffset: 0,
    outStride: P,
    hN: new Float32Array(B * P),
    cN: w.mode === 'lstm' ? new Float32Array(B * w.hiddenSize) : null,
  };
}

/** Per-step active counts of sequences with these (non-increasing) lengths, as PyTorch packs them. */
export function batchSizesOf(lengths: number[]): Int32Array {
  const T = lengths[0] ?? 0;
  return Int32Array.from({ length: T }, (_, t) => lengths.filter((len) => len > t).length);
}

/**
 * Runs one direction of a layer through the backend's fused kernel. With `lengths`, the padded
 * `[T, B, I]` input is packed first and the packed output is padded back with zeros.
 */
export function runFused(
  be: Backend,
  w: RecurrentWeights,
  x: Float32Array,
  T: number,
  B: number,
  opts: {
    h0?: Float32Array | null;
    c0?: Float32Array | null;
    reverse?: boolean;
    lengths?: number[] | null;
    /** Reuse this workspace (default: a fresh one, disposed after the call). */
    workspace?: Workspace;
  } = {},
): { out: Float32Array; hN: Float32Array; cN: Float32Array | null } {
  const P = w.projSize > 0 ? w.projSize : w.hiddenSize;
  const I = w.inputSize;
  const sizes = opts.lengths ? batchSizesOf(opts.lengths) : null;
  // Packed rows (t, b) for b < sizes[t], in time order; the padded layout has every (t, b).
  const rowsOf: Array<[number, number]> = [];
  for (let t = 0; t < T; t++) for (let b = 0; b < (sizes ? (sizes[t] ?? 0) : B); b++) rowsOf.push([t, b]);
  const xIn = new Float32Array(rowsOf.length * I);
  rowsOf.forEach(([t, b], r) => {
    xIn.set(x.subarray((t * B + b) * I, (t * B + b + 1) * I), r * I);
  });
  const prepared = be.prepareWeights(w);
  const workspace = opts.workspace ?? be.createWorkspace();
  // Write into the second half of a two-direction buffer, as a bidirectional layer does.
  const wide = new Float32Array(rowsOf.length * 2 * P).fill(Number.NaN);
  const hN = new Float32Array(B * P);
  const cN = w.mode === 'lstm' ? new Float32Array(B * w.hiddenSize) : null;
  const args = {
    weights: prepared,
    x: xIn,
    seqLen: sizes ? sizes.length : T,
    batch: B,
    h0: opts.h0 ?? null,
    c0: opts.c0 ?? null,
    out: wide,
    outOffset: P,
    outStride: 2 * P,
    hN,
    cN,
    reverse: opts.reverse ?? false,
    batchSizes: sizes,
  };
  be.layer(args, workspace);
  prepared.dispose();
  if (!opts.workspace) workspace.dispose();
  const out = new Float32Array(T * B * P);
  rowsOf.forEach(([t, b], r) => {
    out.set(wide.subarray(r * 2 * P + P, r * 2 * P + 2 * P), (t * B + b) * P);
    for (let j = 0; j < P; j++) {
      if (!Number.isNaN(wide[r * 2 * P + j]!)) throw new Error(`kernel wrote outside its half of the output at row ${r}`);
    }
  });
  return { out, hN, cN };
}

/**
 * The whole suite for one backend: the forward kernels always, and the backward kernels where the
 * backend declares the `backward` capability.
 */
export function describeKernelConformance(label: string, getBackend: () => Backend): void {
  if (getBackend().capabilities?.backward) describeBackwardConformance(label, getBackend);
  describe(`kernel conformance: ${label}`, () => {
    describe('matmul', () => {
      const sizes = [1, 3, 17, 129];
      for (const m of sizes)
        for (const k of sizes)
          for (const n of sizes) {
            it(`[${m},${k}] @ [${k},${n}]`, () => {
              const g = new Generator(m * 10007 + k * 101 + n);
              const a = randomArray(g, m * k);
              const b = randomArray(g, k * n);
              const got = getBackend().matmul(a, b, m, k, n);
              expect(got).toBeAllclose(naiveMatmul(a, b, m, k, n), { atol: 1e-5 * Math.sqrt(k), rtol: 1e-5 });
            });
          }

      it('transB and accumulate', () => {
        const g = new Generator(7);
        const [m, k, n] = [5, 33, 65];
        const a = randomArray(g, m * k);
        const b = randomArray(g, k * n);
        const bT = new Float32Array(n * k);
        for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) bT[j * k + p] = b[p * n + j]!;
        const expected = naiveMatmul(a, b, m, k, n);
        expect(getBackend().matmul(a, bT, m, k, n, { transB: true })).toBeAllclose(expected);
        const out = new Float32Array(m * n).fill(1);
        getBackend().matmul(a, b, m, k, n, { out, accumulate: true });
        expect(out).toBeAllclose(expected.map((v) => v + 1));
      });

      it('rejects mismatched sizes', () => {
        expect(() => getBackend().matmul(new Float32Array(6), new Float32Array(6), 2, 3, 3)).toThrow(/b expected 9 values/);
      });
    });

    describe('fused layers against the float64 reference', () => {
      const cases: Array<{ mode: RecurrentMode; I: number; H: number; proj?: number; bias?: boolean }> = [
        { mode: 'lstm', I: 5, H: 7 },
        { mode: 'lstm', I: 3, H: 9, proj: 4 },
        { mode: 'lstm', I: 6, H: 5, bias: false },
        { mode: 'gru', I: 5, H: 7 },
        { mode: 'gru', I: 4, H: 3, bias: false },
        { mode: 'rnn_tanh', I: 5, H: 6 },
        { mode: 'rnn_relu', I: 5, H: 6 },
      ];
      for (const c of cases) {
        for (const reverse of [false, true]) {
          for (const variant of ['zeros', 'state', 'lengths'] as const) {
            it(`${c.mode} I=${c.I} H=${c.H}${c.proj ? ` proj=${c.proj}` : ''}${c.bias === false ? ' no bias' : ''} reverse=${reverse} ${variant}`, () => {
              const be = getBackend();
              const g = new Generator(c.I * 31 + c.H + (reverse ? 1000 : 0));
              const w = randomWeights(g, c.mode, c.I, c.H, c.proj ?? 0, c.bias ?? true);
              const T = 9;
              const B = 4;
              const P = c.proj ?? c.H;
              const x = randomArray(g, T * B * c.I, 2);
              const h0 = variant === 'zeros' ? null : randomArray(g, B * P);
              const c0 = variant !== 'zeros' && c.mode === 'lstm' ? randomArray(g, B * c.H) : null;
              const lengths = variant === 'lengths' ? [9, 6, 6, 1] : null;
              const got = runFused(be, w, x, T, B, { h0, c0, reverse, lengths });
              const ref = referenceLayer(w, x, T, B, h0, c0, reverse, lengths);
              expect(got.out).toBeAllclose(ref.out);
              expect(got.hN).toBeAllclose(ref.hN);
              if (c.mode === 'lstm') expect(got.cN!).toBeAllclose(ref.cN!);
            });
          }
        }
      }

      it('stays finite on saturating inputs (|x| ~ 1e4)', () => {
        const be = getBackend();
        const g = new Generator(11);
        for (const mode of ['lstm', 'gru', 'rnn_tanh'] as const) {
          const w = randomWeights(g, mode, 3, 4);
          const x = randomArray(g, 5 * 2 * 3, 1e4);
          const got = runFused(be, w, x, 5, 2);
          expect(Array.from(got.out).every(Number.isFinite)).toBe(true);
        }
      });

      it('rejects batch sizes that are not non-increasing or do not start at the batch', () => {
        const be = getBackend();
        const w = be.prepareWeights(randomWeights(new Generator(1), 'gru', 2, 3));
        const ws = be.createWorkspace();
        const call = (sizes: number[]) => () =>
          be.layer({
            weights: w,
            x: new Float32Array(sizes.reduce((a, b) => a + b, 0) * 2),
            seqLen: sizes.length,
            batch: 2,
            h0: null,
            out: new Float32Array(64),
            outOffset: 0,
            outStride: 3,
            hN: new Float32Array(6),
            batchSizes: Int32Array.from(sizes),
          }, ws);
        expect(call([1, 2])).toThrow(/non-increasing/);
        expect(call([2, 0])).toThrow(/non-increasing/);
        expect(call([1, 1])).toThrow(/starting at 2/);
        expect(call([2, 2, 1])).not.toThrow();
        w.dispose();
        ws.dispose();
      });

      for (const mode of ['lstm', 'gru', 'rnn_tanh'] as const) {
        it(`${mode}: a sequence alone in its batch gets the bits it gets beside others`, () => {
          // A one-row step may take another product path than a batched one (wasm: 16-column panels
          // for hidden sizes that are multiples of 16); every path sums each output in the same order.
          const be = getBackend();
          const sizes: Array<[number, number]> = [[32, 0], [24, 0]];
          if (mode === 'lstm') sizes.push([32, 12]);
          for (const [H, proj] of sizes) {
            const g = new Generator(31 + H + proj);
            const w = randomWeights(g, mode, 6, H, proj);
            const P = proj || H;
            const T = 5;
            const B = 5;
            const x = randomArray(g, T * B * 6);
            const h0 = randomArray(g, B * P);
            const c0 = mode === 'lstm' ? randomArray(g, B * H) : null;
            const together = runFused(be, w, x, T, B, { h0, c0 });
            // Row 0 shares a block of four rows with others; row 4 is a batch's single leftover row.
            for (const b of [0, 4]) {
              const xb = new Float32Array(T * 6);
              for (let t = 0; t < T; t++) xb.set(x.subarray((t * B + b) * 6, (t * B + b + 1) * 6), t * 6);
              const alone = runFused(be, w, xb, T, 1, { h0: h0.slice(b * P, (b + 1) * P), c0: c0 ? c0.slice(b * H, (b + 1) * H) : null });
              const rowOf = (out: Float32Array) => Float32Array.from({ length: T * P }, (_, i) => out[(Math.floor(i / P) * B + b) * P + (i % P)]!);
              expect(alone.out).toBeAllclose(rowOf(together.out), { atol: 0, rtol: 0 });
              expect(alone.hN).toBeAllclose(together.hN.slice(b * P, (b + 1) * P), { atol: 0, rtol: 0 });
              if (c0) expect(alone.cN!).toBeAllclose(together.cN!.slice(b * H, (b + 1) * H), { atol: 0, rtol: 0 });
            }
          }
        });
      }

      it('packed steps with a batch of one match the padded layout', () => {
        const be = getBackend();
        const g = new Generator(21);
        const w = randomWeights(g, 'lstm', 3, 5, 2);
        const x = randomArray(g, 6 * 1 * 3);
        const padded = runFused(be, w, x, 6, 1);
        const packed = runFused(be, w, x, 6, 1, { lengths: [6] });
        expect(packed.out).toBeAllclose(padded.out, { atol: 0, rtol: 0 });
        expect(packed.hN).toBeAllclose(padded.hN, { atol: 0, rtol: 0 });
      });

      for (const mode of ['lstm', 'gru', 'rnn_tanh'] as const) {
        it(`${mode}: a contiguous output (outStride = P), short and long, equals the strided one`, () => {
          // Long enough (160 rows x 32) for a backend's bulk-copy path, and a short one for its loop.
          const be = getBackend();
          for (const [T, B] of [[3, 2], [80, 2]] as const) {
            const g = new Generator(23 + T);
            const w = randomWeights(g, mode, 8, 32);
            const x = randomArray(g, T * B * 8);
            const strided = runFused(be, w, x, T, B);
            const prepared = be.prepareWeights(w);
            const out = new Float32Array(T * B * 32);
            const hN = new Float32Array(B * 32);
            const cN = mode === 'lstm' ? new Float32Array(B * 32) : null;
            const args = { weights: prepared, x, seqLen: T, batch: B, h0: null, c0: null, out, outOffset: 0, outStride: 32, hN, cN };
            const ws = be.createWorkspace();
            be.layer(args, ws);
            ws.dispose();
            prepared.dispose();
            expect(out).toBeAllclose(strided.out, { atol: 0, rtol: 0 });
            expect(hN).toBeAllclose(strided.hN, { atol: 0, rtol: 0 });
            if (cN) expect(cN).toBeAllclose(strided.cN!, { atol: 0, rtol: 0 });
          }
        });
      }
    });

    describe('workspaces, disposal and non-finite values', () => {
      it('one workspace serves calls of every mode and size in turn, with the results of fresh ones', () => {
        const be = getBackend();
        const g = new Generator(41);
        const shared = be.createWorkspace();
        const plan = [
          { mode: 'lstm' as const, I: 6, H: 24, T: 12, B: 5, proj: 8 },
          { mode: 'gru' as const, I: 3, H: 5, T: 2, B: 1, proj: 0 },
          { mode: 'rnn_relu' as const, I: 9, H: 40, T: 7, B: 3, proj: 0 },
          { mode: 'lstm' as const, I: 6, H: 24, T: 12, B: 5, proj: 8 },
        ];
        for (const c of plan) {
          const w = randomWeights(g, c.mode, c.I, c.H, c.proj);
          const x = randomArray(g, c.T * c.B * c.I);
          const lengths = c.B > 1 ? [c.T, ...Array.from({ length: c.B - 1 }, () => Math.max(1, c.T - 2))] : null;
          const reused = runFused(be, w, x, c.T, c.B, { lengths, reverse: true, workspace: shared });
          const fresh = runFused(be, w, x, c.T, c.B, { lengths, reverse: true });
          expect(reused.out).toBeAllclose(fresh.out, { atol: 0, rtol: 0 });
          expect(reused.hN).toBeAllclose(fresh.hN, { atol: 0, rtol: 0 });
        }
        shared.dispose();
      });

      it('interleaved calls on two workspaces do not disturb each other', () => {
        const be = getBackend();
        const g = new Generator(43);
        const w = randomWeights(g, 'gru', 4, 6);
        const x = randomArray(g, 5 * 2 * 4);
        const a = be.createWorkspace();
        const b = be.createWorkspace();
        const first = runFused(be, w, x, 5, 2, { workspace: a });
        runFused(be, randomWeights(g, 'lstm', 7, 11), randomArray(g, 3 * 4 * 7), 3, 4, { workspace: b });
        expect(runFused(be, w, x, 5, 2, { workspace: a }).out).toBeAllclose(first.out, { atol: 0, rtol: 0 });
        a.dispose();
        b.dispose();
      });

      it('disposed weights or workspaces, and ones from another backend, are a BackendError', () => {
        const be = getBackend();
        const w = randomWeights(new Generator(47), 'lstm', 3, 4);
        const args = paddedLayerArgs(w, be.prepareWeights(w), new Float32Array(6), 2, 1);
        const ws = be.createWorkspace();
        be.layer(args, ws);
        const foreign = { backend: 'elsewhere', training: false, disposed: false, dispose() {} };
        expect(() => be.layer(args, foreign)).toThrow(BackendError);
        expect(() => be.layer(args, foreign)).toThrow(`workspace was created by backend 'elsewhere', expected '${be.name}'`);
        const foreignWeights = { ...args, weights: { ...args.weights, backend: 'elsewhere' } };
        expect(() => be.layer(foreignWeights, ws)).toThrow(`weights were prepared by backend 'elsewhere', expected '${be.name}'`);
        args.weights.dispose();
        args.weights.dispose();
        expect(args.weights.disposed).toBe(true);
        expect(() => be.layer(args, ws)).toThrow(BackendError);
        expect(() => be.layer(args, ws)).toThrow(`${be.name}.layer: weights were disposed; prepare them again`);
        const live = paddedLayerArgs(w, be.prepareWeights(w), new Float32Array(6), 2, 1);
        ws.dispose();
        ws.dispose();
        expect(ws.disposed).toBe(true);
        expect(() => be.layer(live, ws)).toThrow(`${be.name}.layer: workspace was disposed; create another with createWorkspace()`);
        live.weights.dispose();
      });

      it('NaN in one input row spreads through its own sequence only, as in PyTorch', () => {
        const be = getBackend();
        for (const mode of ['lstm', 'gru', 'rnn_tanh', 'rnn_relu'] as const) {
          const g = new Generator(53);
          const w = randomWeights(g, mode, 3, 4);
          const [T, B] = [4, 3];
          const x = randomArray(g, T * B * 3);
          x[(1 * B + 1) * 3] = Number.NaN; // step 1, sequence 1
          const got = runFused(be, w, x, T, B);
          const ref = referenceLayer(w, x, T, B, null, null, false, null);
          expect(got.out).toBeAllclose(ref.out);
          for (let t = 0; t < T; t++) {
            for (let b = 0; b < B; b++) {
              const row = Array.from(got.out.subarray((t * B + b) * 4, (t * B + b + 1) * 4));
              if (mode === 'rnn_relu') continue; // relu may zero a NaN-free lane; the reference comparison covers it
              expect(row.some(Number.isNaN)).toBe(b === 1 && t >= 1);
            }
          }
        }
      });

      it('saturates exactly: tanh of ±1e4 is ±1 and relu keeps large values', () => {
        const be = getBackend();
        const w: RecurrentWeights = {
          mode: 'rnn_tanh',
          inputSize: 1,
          hiddenSize: 1,
          projSize: 0,
          weightIh: Float32Array.of(1),
          weightHh: Float32Array.of(0),
          biasIh: null,
          biasHh: null,
          weightHr: null,
        };
        const x = Float32Array.of(-1e4, -30, 0, 30, 1e4);
        expect(Array.from(runFused(be, w, x, 5, 1).out)).toEqual([-1, -1, 0, 1, 1]);
        expect(Array.from(runFused(be, { ...w, mode: 'rnn_relu' }, x, 5, 1).out)).toEqual([0, 0, 0, 30, 1e4]);
      });
    });

    if (getBackend().capabilities?.concurrent) describePairs(getBackend);
  });
}

/**
 * `layers()` of a backend declaring `concurrent`: the two directions of a bidirectional layer side by
 * side give exactly what `layer()` gives each in turn (padded and packed, every mode, training
 * workspaces too), and one workspace for both calls is refused.
 */
function describePairs(getBackend: () => Backend): void {
  describe('layers(): two calls side by side', () => {
    const cases: Array<{ mode: RecurrentMode; I: number; H: number; proj?: number; T: number; B: number; lengths?: number[] }> = [
      { mode: 'lstm', I: 12, H: 32, T: 7, B: 5 },
      { mode: 'lstm', I: 6, H: 24, proj: 8, T: 5, B: 3 },
      { mode: 'gru', I: 10, H: 16, T: 6, B: 4, lengths: [6, 5, 2, 1] },
      { mode: 'rnn_tanh', I: 4, H: 9, T: 4, B: 2 },
    ];
    for (const c of cases) {
      for (const training of [false, true]) {
        it(`${c.mode} H=${c.H}${c.proj ? ` proj=${c.proj}` : ''}${c.lengths ? ' packed' : ''}${training ? ', training workspaces' : ''}`, () => {
          const be = getBackend();
          const g = new Generator(c.H * 7 + c.T);
          const P = c.proj ?? c.H;
          const sizes = c.lengths ? batchSizesOf(c.lengths) : null;
          const rows = sizes ? sizes.reduce((a, b) => a + b, 0) : c.T * c.B;
          const fw = be.prepareWeights(randomWeights(g, c.mode, c.I, c.H, c.proj ?? 0));
          const bw = be.prepareWeights(randomWeights(g, c.mode, c.I, c.H, c.proj ?? 0));
          const x = randomArray(g, rows * c.I);
          const h0 = randomArray(g, 2 * c.B * P);
          const call = (d: number, out: Float32Array, hN: Float32Array, cN: Float32Array | null) => ({
            weights: d === 0 ? fw : bw,
            x,
            seqLen: sizes ? sizes.length : c.T,
            batch: c.B,
            h0: h0.subarray(d * c.B * P, (d + 1) * c.B * P),
            c0: null,
            out,
            outOffset: d * P,
            outStride: 2 * P,
            hN: hN.subarray(d * c.B * P, (d + 1) * c.B * P),
            cN: cN ? cN.subarray(d * c.B * c.H, (d + 1) * c.B * c.H) : null,
            reverse: d === 1,
            batchSizes: sizes,
          });
          const run = (together: boolean) => {
            const out = new Float32Array(rows * 2 * P);
            const hN = new Float32Array(2 * c.B * P);
            const cN = c.mode === 'lstm' ? new Float32Array(2 * c.B * c.H) : null;
            const ws = [be.createWorkspace({ training }), be.createWorkspace({ training })];
            const calls = [0, 1].map((d) => ({ args: call(d, out, hN, cN), workspace: ws[d]! }));
            if (together) be.layers!(calls);
            else for (const k of calls) be.layer(k.args, k.workspace);
            for (const w of ws) w.dispose();
            return { out, hN, cN };
          };
          const a = run(false);
          const b = run(true);
          expect(Array.from(b.out)).toEqual(Array.from(a.out));
          expect(Array.from(b.hN)).toEqual(Array.from(a.hN));
          if (a.cN) expect(Array.from(b.cN!)).toEqual(Array.from(a.cN));
          fw.dispose();
          bw.dispose();
        });
      }
    }

    it('refuses one workspace for both calls', () => {
      const be = getBackend();
      const g = new Generator(3);
      const w = be.prepareWeights(randomWeights(g, 'gru', 4, 8));
      const ws = be.createWorkspace();
      const args = (d: number) => ({
        weights: w, x: randomArray(g, 3 * 4), seqLen: 3, batch: 1, h0: null, c0: null,
        out: new Float32Array(3 * 16), outOffset: d * 8, outStride: 16, hN: new Float32Array(8), cN: null, reverse: d === 1, batchSizes: null,
      });
      expect(() => be.layers!([{ args: args(0), workspace: ws }, { args: args(1), workspace: ws }])).toThrow(/a workspace each/);
      w.dispose();
      ws.dispose();
    });
  });
}
