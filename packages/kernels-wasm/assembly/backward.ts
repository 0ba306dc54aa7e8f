// Backpropagation through time for one layer direction, from the activations the forward saved in
// the reserve (gates after their nonlinearity, LSTM cell states, h per row). Per step only the
// recurrent product dA · W_hh runs on the SIMD GEMM; the weight and input gradients are large GEMMs
// over all rows at the end. No GEMM of the forward is recomputed. The JS side owns every buffer and
// passes their byte offsets in a descriptor (indices below); nothing here allocates.

import { roundUp8, slot } from './desc';
import { gemm, packB } from './gemm';

// Descriptor slots (i32 byte offsets; 0 = absent).
const SIZES = 0; // batchSizes [T] or 0 (padded)
const X = 1; // input rows [rows, I]
const H0 = 2; // [B, P] or 0
const C0 = 3; // [B, H] or 0
const ACTS = 4; // [rows, 4H]: LSTM i,f,g,o; GRU r,z,n,hn
const CS = 5; // [rows, H] LSTM cell states
const HS = 6; // [rows, P] hidden states
const HFULLS = 7; // [rows, H] LSTM before projection
const DOUT = 8; // [rows, P] dL/d(out) or 0
const DH = 9; // [B, P] in: dL/dhN, out: dL/dh0
const DC = 10; // [B, H] in: dL/dcN, out: dL/dc0 (LSTM)
const DA = 11; // [rows, gh8] pre-activation gradients (input projection)
const DAH = 12; // [rows, gh8] ... of the recurrent projection (GRU; else = DA)
const HPREV = 13; // [rows, P] h_{t-1} per row
const DHROW = 14; // [rows, P] dL/dh per row before W_hr (projection) or 0
const DHFULL = 15; // [B, h8] scratch
const DHSTEP = 16; // [B, p8] scratch
const WHH = 17; // W_hh [GH, P] packed as B
const WHR = 18; // W_hr [P, H] packed as B, or 0
const TRANS = 19; // scratch for a transposed [GH, rows]
const PACK = 20; // scratch for packing [rows, max(I, P, H)]
const DWIH = 21; // out [GH, i8]
const DWHH = 22; // out [GH, p8]
const DWHR = 23; // out [P, h8] or 0
const DBIH = 24; // out [gh8]
const DBHH = 25; // out [gh8]
const DX = 26; // out [rows, i8] or 0
const WIH = 27; // W_ih [GH, I] packed as B
const STEPS = 28; // scratch i32 [T] first row of each step

// @ts-ignore: decorator
@inline
function f(p: usize, i: i32): f32 {
  return load<f32>(p + (<usize>i << 2));
}

// @ts-ignore: decorator
@inline
function put(p: usize, i: i32, v: f32): void {
  store<f32>(p + (<usize>i << 2), v);
}

// @ts-ignore: decorator
@inline
function stepCount(t: i32, B: i32, sizes: usize): i32 {
  return sizes == 0 ? B : load<i32>(sizes + (<usize>t << 2));
}

/** C[k, n] (+)= A[m, k]^T · Bm[m, n], A with row stride lda, through a transpose and a packing. */
function transposedProduct(m: i32, k: i32, n: i32, a: usize, lda: i32, bm: usize, ldb: i32, c: usize, trans: usize, pack: usize): void {
  // In 32 x 32 tiles, so both the reads and the writes stay within a few cache lines.
  for (let i0 = 0; i0 < m; i0 += 32) {
    const i1 = min(m, i0 + 32);
    for (let p0 = 0; p0 < k; p0 += 32) {
      const p1 = min(k, p0 + 32);
      for (let i = i0; i < i1; i++) for (let p = p0; p < p1; p++) put(trans, p * m + i, f(a, i * lda + p));
    }
  }
  packB(bm, m, n, ldb, 1, pack);
  gemm(k, n, m, trans, m, pack, c, roundUp8(n), false);
}

/**
 * Gradients of one layer direction. mode: 0 LSTM, 1 GRU, 2 RNN tanh, 3 RNN relu. Writes dh0/dc0 into
 * DH/DC, dx into DX, and the weight gradients (not accumulated) into DWIH, DWHH, DWHR, DBIH, DBHH.
 */
export function layerBackward(mode: i32, T: i32, B: i32, rows: i32, I: i32, H: i32, P: i32, reverse: bool, d: usize): void {
  const G = mode == 0 ? 4 : mode == 1 ? 3 : 1;
  const GH = G * H;
  const gh8 = roundUp8(GH);
  const p8 = roundUp8(P);
  const h8 = roundUp8(H);
  const sizes = slot(d, SIZES);
  const steps = slot(d, STEPS);
  const acts = slot(d, ACTS);
  const cs = slot(d, CS);
  const hs = slot(d, HS);
  const dOut = slot(d, DOUT);
  const dh = slot(d, DH);
  const dc = slot(d, DC);
  const dA = slot(d, DA);
  const dAh = slot(d, DAH);
  const hPrev = slot(d, HPREV);
  const dHrow = slot(d, DHROW);
  const dhFull = slot(d, DHFULL);
  const dhStep = slot(d, DHSTEP);
  const h0 = slot(d, H0);
  const c0 = slot(d, C0);
  const whr = slot(d, WHR);

  // First row of every step, in the forward's order.
  let row = reverse ? rows : 0;
  let n = 0;
  for (let s = 0; s < T; s++) {
    const t = reverse ? T - 1 - s : s;
    if (reverse) {
      n = stepCount(t, B, sizes);
      row -= n;
    } else {
      row += n;
      n = stepCount(t, B, sizes);
    }
    store<i32>(steps + (<usize>s << 2), row);
  }

  for (let s = T - 1; s >= 0; s--) {
    const r0 = load<i32>(steps + (<usize>s << 2));
    const nb = stepCount(reverse ? T - 1 - s : s, B, sizes);
    const prevRow = s > 0 ? load<i32>(steps + (<usize>(s - 1) << 2)) : -1;
    const prevN = s > 0 ? stepCount(reverse ? T - s : s - 1, B, sizes) : 0;
    if (dOut != 0) for (let i = 0; i < nb * P; i++) put(dh, i, f(dh, i) + f(dOut, r0 * P + i));
    for (let b = 0; b < nb; b++) {
      for (let j = 0; j < P; j++) {
        const v: f32 = b < prevN ? f(hs, (prevRow + b) * P + j) : h0 != 0 ? f(h0, b * P + j) : 0;
        put(hPrev, (r0 + b) * P + j, v);
      }
    }
    if (mode == 0) {
      let dhf = dh;
      let dhfStride = P;
      if (whr != 0) {
        for (let i = 0; i < nb * P; i++) put(dHrow, r0 * P + i, f(dh, i));
        gemm(nb, H, P, dh, P, whr, dhFull, h8, false);
        dhf = dhFull;
        dhfStride = h8;
      }
      for (let b = 0; b < nb; b++) {
        const r = r0 + b;
        const a = r * 4 * H;
        const g = r * gh8;
        for (let j = 0; j < H; j++) {
          const ig = f(acts, a + j);
          const fg = f(acts, a + H + j);
          const gg = f(acts, a + 2 * H + j);
          const og = f(acts, a + 3 * H + j);
          const c = f(cs, r * H + j);
          const cPrev: f32 = b < prevN ? f(cs, (prevRow + b) * H + j) : c0 != 0 ? f(c0, b * H + j) : 0;
          const tc = <f32>Math.tanh(c);
          const dho = f(dhf, b * dhfStride + j);
          const dcv = f(dc, b * H + j) + dho * og * (1 - tc * tc);
          put(dA, g + j, dcv * gg * ig * (1 - ig));
          put(dA, g + H + j, dcv * cPrev * fg * (1 - fg));
          put(dA, g + 2 * H + j, dcv * ig * (1 - gg * gg));
          put(dA, g + 3 * H + j, dho * tc * og * (1 - og));
          put(dc, b * H + j, dcv * fg);
        }
      }
      gemm(nb, P, GH, dA + (<usize>(r0 * gh8) << 2), gh8, slot(d, WHH), dhStep, p8, false);
    } else if (mode == 1) {
      for (let b = 0; b < nb; b++) {
        const r = r0 + b;
        const a = r * 4 * H;
        const g = r * gh8;
        for (let j = 0; j < H; j++) {
          const rg = f(acts, a + j);
          const zg = f(acts, a + H + j);
          const ng = f(acts, a + 2 * H + j);
          const hn = f(acts, a + 3 * H + j);
          const dhv = f(dh, b * H + j);
          const hp = f(hPrev, r * H + j);
          const dan = dhv * (1 - zg) * (1 - ng * ng);
          const dar = dan * hn * rg * (1 - rg);
          const daz = dhv * (hp - ng) * zg * (1 - zg);
          put(dA, g + j, dar);
          put(dA, g + H + j, daz);
          put(dA, g + 2 * H + j, dan);
          put(dAh, g + j, dar);
          put(dAh, g + H + j, daz);
          put(dAh, g + 2 * H + j, dan * rg);
          put(dhStep, b * p8 + j, dhv * zg);
        }
      }
      gemm(nb, P, GH, dAh + (<usize>(r0 * gh8) << 2), gh8, slot(d, WHH), dhStep, p8, true);
    } else {
      for (let b = 0; b < nb; b++) {
        const r = r0 + b;
        for (let j = 0; j < H; j++) {
          const h = f(hs, r * H + j);
          const dv = f(dh, b * H + j);
          let da: f32;
          if (mode == 3) da = h > 0 ? dv : h != h ? h : 0;
          else da = dv * (1 - h * h);
          put(dA, r * gh8 + j, da);
        }
      }
      gemm(nb, P, GH, dA + (<usize>(r0 * gh8) << 2), gh8, slot(d, WHH), dhStep, p8, false);
    }
    for (let b = 0; b < nb; b++) for (let j = 0; j < P; j++) put(dh, b * P + j, f(dhStep, b * p8 + j));
  }

  // Whole-sequence products.
  const trans = slot(d, TRANS);
  const pack = slot(d, PACK);
  transposedProduct(rows, GH, I, dA, gh8, slot(d, X), I, slot(d, DWIH), trans, pack);
  transposedProduct(rows, GH, P, dAh, gh8, hPrev, P, slot(d, DWHH), trans, pack);
  if (whr != 0) transposedProduct(rows, P, H, dHrow, P, slot(d, HFULLS), H, slot(d, DWHR), trans, pack);
  const dbih = slot(d, DBIH);
  const dbhh = slot(d, DBHH);
  // Column sums row by row (contiguous, four columns at a time); the rows are padded to gh8.
  memory.fill(dbih, 0, <usize>gh8 << 2);
  memory.fill(dbhh, 0, <usize>gh8 << 2);
  for (let r = 0; r < rows; r++) {
    const ra = dA + (<usize>(r * gh8) << 2);
    const rh = dAh + (<usize>(r * gh8) << 2);
    for (let j = 0; j < gh8; j += 4) {
      const o = <usize>j << 2;
      v128.store(dbih + o, f32x4.add(v128.load(dbih + o), v128.load(ra + o)));
      v128.store(dbhh + o, f32x4.add(v128.load(dbhh + o), v128.load(rh + o)));
    }
  }
  const dx = slot(d, DX);
  if (dx != 0) gemm(rows, I, GH, dA, gh8, slot(d, WIH), dx, roundUp8(I), false);
}
