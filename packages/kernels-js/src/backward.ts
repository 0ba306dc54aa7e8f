// Backpropagation through time for one layer direction, from the activations the forward saved in a
// training workspace's reserve (gates after their nonlinearity, cell states, h per row), so no GEMM
// of the forward is recomputed. Per step only the recurrent product dA · W_hh runs; the weight and
// input gradients are three large GEMMs over all rows at the end, as cuDNN and PyTorch do.

import { BackendError, type LayerBackwardArgs, type Workspace, advanceStep, checkLayerArgs, gateCount } from '@recur/core-tensor';
import { gemmPacked, packPanels } from './gemm.js';
import { JsPreparedWeights, JsWorkspace } from './layers.js';

/** `C[m,n] (+)= A[m,k] · B[k,n]`, all row-major. */
function matmulInto(a: Float32Array, b: Float32Array, m: number, k: number, n: number, c: Float32Array, accumulate: boolean): void {
  gemmPacked(m, n, k, a, 0, k, packPanels(b, k, n), c, 0, n, accumulate);
}

/** `C[k,n] += A[m,k]^T · B[m,n]`. */
function addTransposedProduct(a: Float32Array, b: Float32Array, m: number, k: number, n: number, c: Float32Array): void {
  const at = new Float32Array(k * m);
  for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) at[p * m + i] = a[i * k + p]!;
  matmulInto(at, b, k, m, n, c, true);
}

/** Adds the column sums of `a` `[m, n]` to `out` `[n]`. */
function addColumnSums(a: Float32Array, m: number, n: number, out: Float32Array): void {
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (let i = 0; i < m; i++) s += a[i * n + j]!;
    out[j]! += s;
  }
}

export function layerBackward(args: LayerBackwardArgs, workspace: Workspace): void {
  const f = args.forward;
  const rows = checkLayerArgs(f, workspace, 'js');
  const w = f.weights;
  const ws = workspace;
  if (!(w instanceof JsPreparedWeights) || !(ws instanceof JsWorkspace)) {
    throw new BackendError('js.layerBackward: weights or workspace were made by another copy of the js backend');
  }
  if (!ws.training || ws.savedFor !== f) {
    throw new BackendError(
      'js.layerBackward: the workspace holds no saved forward of these arguments; create it with createWorkspace({ training: true }) and call layer() with the same arguments first',
    );
  }
  const src = w.source;
  const T = f.seqLen;
  const B = f.batch;
  const H = w.hiddenSize;
  const P = w.outputSize;
  const G = gateCount(w.mode);
  const GH = G * H;
  const I = w.inputSize;
  const isLstm = w.mode === 'lstm';
  const isGru = w.mode === 'gru';
  const { acts, cs, hs, hFulls } = ws;

  // Step positions, in the forward's order (the walk the forward made, from advanceStep).
  const stepRow = new Int32Array(T);
  const stepN = new Int32Array(T);
  const cursor = { row: 0, n: 0 };
  for (let s = 0; s < T; s++) {
    advanceStep(cursor, s, T, B, rows, f.batchSizes, f.reverse === true);
    stepRow[s] = cursor.row;
    stepN[s] = cursor.n;
  }

  const dh = new Float32Array(B * P);
  if (args.dhN) dh.set(args.dhN);
  const dc = new Float32Array(isLstm ? B * H : 0);
  if (isLstm && args.dcN) dc.set(args.dcN);
  const dA = new Float32Array(rows * GH); // pre-activation gradients of the input projection
  const dAh = isGru ? new Float32Array(rows * GH) : dA; // ... and of the recurrent one (GRU's n differs)
  const hPrev = new Float32Array(rows * P);
  const dHrow = src.weightHr ? new Float32Array(rows * P) : null; // dL/dh before the projection's input, per row
  const whhPanels = packPanels(src.weightHh, GH, P);
  const whrPanels = src.weightHr ? packPanels(src.weightHr, P, H) : null;
  const dhFull = new Float32Array(B * H);
  const dhStep = new Float32Array(B * P);

  for (let s = T - 1; s >= 0; s--) {
    const row = stepRow[s]!;
    const n = stepN[s]!;
    const prevRow = s > 0 ? stepRow[s - 1]! : -1;
    const prevN = s > 0 ? stepN[s - 1]! : 0;
    if (args.dOut) {
      for (let b = 0; b < n; b++) {
        const o = (row + b) * f.outStride + f.outOffset;
        for (let j = 0; j < P; j++) dh[b * P + j]! += args.dOut[o + j]!;
      }
    }
    // h_{t-1} of each active row: the previous step's row, or h0 where the sequence starts here.
    for (let b = 0; b < n; b++) {
      const from = b < prevN ? hs.subarray((prevRow + b) * P, (prevRow + b + 1) * P) : f.h0?.subarray(b * P, (b + 1) * P);
      if (from) hPrev.set(from, (row + b) * P);
    }
    if (isLstm) {
      let dhf = dh;
      if (whrPanels) {
        // h = hFull · W_hr^T: dHidden (before projection) = dh · W_hr; dW_hr gathers dh^T hFull later.
        dHrow!.set(dh.subarray(0, n * P), row * P);
        gemmPacked(n, H, P, dh, 0, P, whrPanels, dhFull, 0, H, false);
        dhf = dhFull;
      }
      for (let b = 0; b < n; b++) {
        const r = row + b;
        const a = r * GH;
        for (let j = 0; j < H; j++) {
          const ig = acts[a + j]!;
          const fg = acts[a + H + j]!;
          const gg = acts[a + 2 * H + j]!;
          const og = acts[a + 3 * H + j]!;
          const c = cs[r * H + j]!;
          const cPrev = b < prevN ? cs[(prevRow + b) * H + j]! : f.c0 ? f.c0[b * H + j]! : 0;
          const tc = Math.tanh(c);
          const dho = dhf[b * H + j]!;
          const dcv = dc[b * H + j]! + dho * og * (1 - tc * tc);
          dA[a + j] = dcv * gg * ig * (1 - ig);
          dA[a + H + j] = dcv * cPrev * fg * (1 - fg);
          dA[a + 2 * H + j] = dcv * ig * (1 - gg * gg);
          dA[a + 3 * H + j] = dho * tc * og * (1 - og);
          dc[b * H + j] = dcv * fg;
        }
      }
      gemmPacked(n, P, GH, dA, row * GH, GH, whhPanels, dhStep, 0, P, false);
      dh.set(dhStep.subarray(0, n * P));
    } else if (isGru) {
      for (let b = 0; b < n; b++) {
        const r = row + b;
        const a = r * GH;
        const hn0 = r * 4 * H; // acts rows hold r, z, n, hn
        for (let j = 0; j < H; j++) {
          const rg = acts[hn0 + j]!;
          const zg = acts[hn0 + H + j]!;
          const ng = acts[hn0 + 2 * H + j]!;
          const hn = acts[hn0 + 3 * H + j]!;
          const dhv = dh[b * H + j]!;
          const hp = hPrev[r * H + j]!;
          const dn = dhv * (1 - zg);
          const dan = dn * (1 - ng * ng);
          const dar = dan * hn * rg * (1 - rg);
          const daz = dhv * (hp - ng) * zg * (1 - zg);
          dA[a + j] = dar;
          dA[a + H + j] = daz;
          dA[a + 2 * H + j] = dan;
          dAh[a + j] = dar;
          dAh[a + H + j] = daz;
          dAh[a + 2 * H + j] = dan * rg;
          dhStep[b * H + j] = dhv * zg;
        }
      }
      gemmPacked(n, P, GH, dAh, row * GH, GH, whhPanels, dhStep, 0, P, true);
      dh.set(dhStep.subarray(0, n * P));
    } else {
      const relu = w.mode === 'rnn_relu';
      for (let b = 0; b < n; b++) {
        const r = row + b;
        for (let j = 0; j < H; j++) {
          const h = hs[r * H + j]!;
          dA[r * H + j] = dh[b * H + j]! * (relu ? (h > 0 ? 1 : Number.isNaN(h) ? h : 0) : 1 - h * h);
        }
      }
      gemmPacked(n, P, GH, dA, row * GH, GH, whhPanels, dhStep, 0, P, false);
      dh.set(dhStep.subarray(0, n * P));
    }
  }

  // Whole-sequence products: parameter gradients and dx.
  const g = args.grads;
  addTransposedProduct(dA, f.x, rows, GH, I, g.weightIh);
  addTransposedProduct(dAh, hPrev, rows, GH, P, g.weightHh);
  if (g.biasIh) addColumnSums(dA, rows, GH, g.biasIh);
  if (g.biasHh) addColumnSums(dAh, rows, GH, g.biasHh);
  if (g.weightHr && dHrow) addTransposedProduct(dHrow, hFulls, rows, P, H, g.weightHr);
  if (args.dx) matmulInto(dA, src.weightIh, rows, GH, I, args.dx, false);
  if (args.dh0) args.dh0.set(dh);
  if (args.dc0 && isLstm) args.dc0.set(dc);
}
