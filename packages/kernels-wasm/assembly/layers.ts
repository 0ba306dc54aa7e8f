// Fused recurrent layers: one direction of one layer over a whole sequence. The input projections of
// every row are one GEMM into `gx` (row stride gh8 = 8-padded G*H, bias added); each step then
// accumulates the recurrent GEMM over the active rows straight into that step's rows of `gx` (LSTM,
// RNN) or into `gates` (GRU, whose n gate needs W_hn h apart) and applies the gates in place.
// Padded layout: step t has B rows at t*B. Packed layout (batchSizes != 0): step t has batchSizes[t]
// rows, stored one step after another. Pointers are byte offsets; nothing here allocates and no
// state outlives a call.

import { relu4, reluScalar, sigmoid4, sigmoidScalar, tanh4, tanhScalar } from './activations';
import { gemm } from './gemm';

// @ts-ignore: decorator
@inline
function roundUp8(n: i32): i32 {
  return (n + 7) & ~7;
}

/** gx[r, :] = x[r, :] @ W_ih^T + bias for every row. */
function project(rows: i32, inputSize: i32, gh8: i32, x: usize, wih: usize, bias: usize, gx: usize): void {
  gemm(rows, gh8, inputSize, x, inputSize, wih, gx, gh8, false);
  for (let r = 0; r < rows; r++) {
    const row = gx + (<usize>(r * gh8) << 2);
    for (let j = 0; j < gh8; j += 4) {
      const o = <usize>j << 2;
      v128.store(row + o, f32x4.add(v128.load(row + o), v128.load(bias + o)));
    }
  }
}

/** Copies nb rows of `width` floats from src (stride srcStride) to dst (stride dstStride). */
function copyRows(nb: i32, width: i32, src: usize, srcStride: i32, dst: usize, dstStride: i32): void {
  for (let b = 0; b < nb; b++) {
    memory.copy(dst + (<usize>(b * dstStride) << 2), src + (<usize>(b * srcStride) << 2), <usize>width << 2);
  }
}

/** Active rows of step t: B padded, batchSizes[t] packed. */
// @ts-ignore: decorator
@inline
function stepRows(t: i32, B: i32, batchSizes: usize): i32 {
  return batchSizes == 0 ? B : load<i32>(batchSizes + (<usize>t << 2));
}

// Every kernel walks its steps as core-tensor's advanceStep does, with the cursor in locals (row, nb)
// so the module keeps no state between calls: s-th step in time order, or from the end in reverse,
// where each packed sequence starts at its own last step.

/**
 * LSTM (gates i, f, g, o). h: [B, P], c: [B, H], out: [rows, P]; whr = 0 without projection,
 * else hfull: [B, H] and ptmp: [B, roundUp8(P)] scratch.
 */
export function lstmLayer(
  T: i32, B: i32, rows: i32, inputSize: i32, H: i32, P: i32,
  x: usize, wih: usize, whh: usize, bias: usize, whr: usize,
  batchSizes: usize, reverse: bool,
  h: usize, c: usize, out: usize, gx: usize, hfull: usize, ptmp: usize,
  acts: usize, cs: usize, hs: usize, hfulls: usize,
): void {
  const gh8 = roundUp8(4 * H);
  project(rows, inputSize, gh8, x, wih, bias, gx);
  const hOut = whr != 0 ? hfull : h;
  const hStride = whr != 0 ? H : P;
  let row = reverse ? rows : 0;
  let nb = 0;
  for (let s = 0; s < T; s++) {
    const t = reverse ? T - 1 - s : s;
    if (reverse) {
      nb = stepRows(t, B, batchSizes);
      row -= nb;
    } else {
      row += nb;
      nb = stepRows(t, B, batchSizes);
    }
    const g0 = gx + (<usize>(row * gh8) << 2);
    gemm(nb, 4 * H, P, h, P, whh, g0, gh8, true);
    for (let b = 0; b < nb; b++) {
      const g = g0 + (<usize>(b * gh8) << 2);
      const cb = c + (<usize>(b * H) << 2);
      const hb = hOut + (<usize>(b * hStride) << 2);
      const hBytes = <usize>H << 2;
      // The reserve of a training call: gates i, f, g, o and c of this row.
      const ab = acts + (<usize>((row + b) * 4 * H) << 2);
      const csb = cs + (<usize>((row + b) * H) << 2);
      let j = 0;
      for (; j + 4 <= H; j += 4) {
        const o = <usize>j << 2;
        const ig = sigmoid4(v128.load(g + o));
        const fg = sigmoid4(v128.load(g + hBytes + o));
        const gg = tanh4(v128.load(g + 2 * hBytes + o));
        const og = sigmoid4(v128.load(g + 3 * hBytes + o));
        const cv = f32x4.add(f32x4.mul(fg, v128.load(cb + o)), f32x4.mul(ig, gg));
        v128.store(cb + o, cv);
        v128.store(hb + o, f32x4.mul(og, tanh4(cv)));
        if (acts != 0) {
          v128.store(ab + o, ig);
          v128.store(ab + hBytes + o, fg);
          v128.store(ab + 2 * hBytes + o, gg);
          v128.store(ab + 3 * hBytes + o, og);
          v128.store(csb + o, cv);
        }
      }
      for (; j < H; j++) {
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
    if (whr != 0) {
      const p8 = roundUp8(P);
      gemm(nb, P, H, hfull, H, whr, ptmp, p8, false);
      copyRows(nb, P, ptmp, p8, h, P);
      if (hfulls != 0) copyRows(nb, H, hfull, H, hfulls + (<usize>(row * H) << 2), H);
    }
    copyRows(nb, P, h, P, out + (<usize>(row * P) << 2), P);
    if (hs != 0) copyRows(nb, P, h, P, hs + (<usize>(row * P) << 2), P);
  }
}

/** GRU (gates r, z, n) with n = tanh(x W_in + b_in + r * (h W_hn + b_hn)). gates: [B, gh8] scratch. */
export function gruLayer(
  T: i32, B: i32, rows: i32, inputSize: i32, H: i32,
  x: usize, wih: usize, whh: usize, bias: usize, bhn: usize,
  batchSizes: usize, reverse: bool,
  h: usize, out: usize, gx: usize, gates: usize,
  acts: usize, hs: usize,
): void {
  const gh8 = roundUp8(3 * H);
  project(rows, inputSize, gh8, x, wih, bias, gx);
  const hBytes = <usize>H << 2;
  let row = reverse ? rows : 0;
  let nb = 0;
  for (let s = 0; s < T; s++) {
    const t = reverse ? T - 1 - s : s;
    if (reverse) {
      nb = stepRows(t, B, batchSizes);
      row -= nb;
    } else {
      row += nb;
      nb = stepRows(t, B, batchSizes);
    }
    gemm(nb, 3 * H, H, h, H, whh, gates, gh8, false);
    for (let b = 0; b < nb; b++) {
      const xg = gx + (<usize>((row + b) * gh8) << 2);
      const hg = gates + (<usize>(b * gh8) << 2);
      const hb = h + (<usize>(b * H) << 2);
      // The reserve of a training call: r, z, n and W_hn h + b_hn of this row.
      const ab = acts + (<usize>((row + b) * 4 * H) << 2);
      let j = 0;
      for (; j + 4 <= H; j += 4) {
        const o = <usize>j << 2;
        const r = sigmoid4(f32x4.add(v128.load(xg + o), v128.load(hg + o)));
        const z = sigmoid4(f32x4.add(v128.load(xg + hBytes + o), v128.load(hg + hBytes + o)));
        const hn = f32x4.add(v128.load(hg + 2 * hBytes + o), v128.load(bhn + o));
        const n = tanh4(f32x4.add(v128.load(xg + 2 * hBytes + o), f32x4.mul(r, hn)));
        const hv = v128.load(hb + o);
        v128.store(hb + o, f32x4.add(f32x4.mul(f32x4.sub(f32x4.splat(1), z), n), f32x4.mul(z, hv)));
        if (acts != 0) {
          v128.store(ab + o, r);
          v128.store(ab + hBytes + o, z);
          v128.store(ab + 2 * hBytes + o, n);
          v128.store(ab + 3 * hBytes + o, hn);
        }
      }
      for (; j < H; j++) {
        const o = <usize>j << 2;
        const r = sigmoidScalar(load<f32>(xg + o) + load<f32>(hg + o));
        const z = sigmoidScalar(load<f32>(xg + hBytes + o) + load<f32>(hg + hBytes + o));
        const hn = load<f32>(hg + 2 * hBytes + o) + load<f32>(bhn + o);
        const n = tanhScalar(load<f32>(xg + 2 * hBytes + o) + r * hn);
        store<f32>(hb + o, (1 - z) * n + z * load<f32>(hb + o));
        if (acts != 0) {
          store<f32>(ab + o, r);
          store<f32>(ab + hBytes + o, z);
          store<f32>(ab + 2 * hBytes + o, n);
          store<f32>(ab + 3 * hBytes + o, hn);
        }
      }
    }
    copyRows(nb, H, h, H, out + (<usize>(row * H) << 2), H);
    if (hs != 0) copyRows(nb, H, h, H, hs + (<usize>(row * H) << 2), H);
  }
}

/** Elman RNN with tanh (relu = false) or relu. */
export function rnnLayer(
  T: i32, B: i32, rows: i32, inputSize: i32, H: i32,
  x: usize, wih: usize, whh: usize, bias: usize, relu: bool,
  batchSizes: usize, reverse: bool,
  h: usize, out: usize, gx: usize,
  hs: usize,
): void {
  const gh8 = roundUp8(H);
  project(rows, inputSize, gh8, x, wih, bias, gx);
  let row = reverse ? rows : 0;
  let nb = 0;
  for (let s = 0; s < T; s++) {
    const t = reverse ? T - 1 - s : s;
    if (reverse) {
      nb = stepRows(t, B, batchSizes);
      row -= nb;
    } else {
      row += nb;
      nb = stepRows(t, B, batchSizes);
    }
    const g0 = gx + (<usize>(row * gh8) << 2);
    gemm(nb, H, H, h, H, whh, g0, gh8, true);
    for (let b = 0; b < nb; b++) {
      const g = g0 + (<usize>(b * gh8) << 2);
      const hb = h + (<usize>(b * H) << 2);
      let j = 0;
      for (; j + 4 <= H; j += 4) {
        const o = <usize>j << 2;
        const v = v128.load(g + o);
        v128.store(hb + o, relu ? relu4(v) : tanh4(v));
      }
      for (; j < H; j++) {
        const o = <usize>j << 2;
        const v = load<f32>(g + o);
        store<f32>(hb + o, relu ? reluScalar(v) : tanhScalar(v));
      }
    }
    copyRows(nb, H, h, H, out + (<usize>(row * H) << 2), H);
    if (hs != 0) copyRows(nb, H, h, H, hs + (<usize>(row * H) << 2), H);
  }
}
