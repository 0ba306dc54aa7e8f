// SIMD GEMM: C[m, n] (+)= A[m, k] @ B[k, n] with B pre-packed into 8-column panels ([n/8][k][8],
// zero-padded), so the 4x8 register-blocked micro-kernel streams each panel sequentially.
// C's row stride must cover n rounded up to 8: the last panel writes whole 8-column blocks.

const MC: i32 = 64;

/** a * b + c: one fused multiply-add where the build enables relaxed SIMD, else a multiply and an add. */
// @ts-ignore: decorator
@inline
function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/** Bytes of B packed into panels of 2^shift columns: ceil(n / width) * k * width floats. */
// @ts-ignore: decorator
@inline
function panelsSize(k: i32, n: i32, shift: i32): i32 {
  return (((n + (1 << shift) - 1) >> shift) * k) << (shift + 2);
}

/**
 * Packs B[k, n] into panels of 2^shift columns ([n/width][k][width], zero-padded). Element (kk, j) is
 * read from src + 4 * (kk * rowStride + j * colStride): row-major B with (n, 1), or B = W^T from a
 * PyTorch weight W[n, k] with (1, k).
 */
// @ts-ignore: decorator
@inline
function packPanels(src: usize, k: i32, n: i32, rowStride: i32, colStride: i32, dst: usize, shift: i32): void {
  const width = 1 << shift;
  const panels = (n + width - 1) >> shift;
  for (let p = 0; p < panels; p++) {
    for (let kk = 0; kk < k; kk++) {
      const out = dst + (<usize>(p * k + kk) << (shift + 2));
      for (let jj = 0; jj < width; jj++) {
        const j = p * width + jj;
        store<f32>(out + (<usize>jj << 2), j < n ? load<f32>(src + (<usize>(kk * rowStride + j * colStride) << 2)) : 0);
      }
    }
  }
}

/** Bytes of B packed into 8-column panels (`packB`). */
export function packedSize(k: i32, n: i32): i32 {
  return panelsSize(k, n, 3);
}

/** Packs B[k, n] into the 8-column panels the GEMM kernels stream (see packPanels for the strides). */
export function packB(src: usize, k: i32, n: i32, rowStride: i32, colStride: i32, dst: usize): void {
  packPanels(src, k, n, rowStride, colStride, dst, 3);
}

/** Bytes of B packed into 16-column panels for one-row products (`packB16`). */
export function packedSize16(k: i32, n: i32): i32 {
  return panelsSize(k, n, 4);
}

/** Packs B into 16-column panels, read as one contiguous stream by `gemv16`. */
export function packB16(src: usize, k: i32, n: i32, rowStride: i32, colStride: i32, dst: usize): void {
  packPanels(src, k, n, rowStride, colStride, dst, 4);
}

/**
 * One row: c[0, n) (+)= a[0, k) @ B with B packed by `packB16` and n a multiple of 16. The same four
 * chains and sum order as kernel1x16 (so the same bits), but each k's 16 weights are one 64-byte line
 * of a single stream instead of two half lines 4 KB apart: 17% faster on the batch-1 stream's
 * 128x512 product with SIMD128, 7% with relaxed SIMD (bench/README.md, "A quiet run").
 */
export function gemv16(n: i32, k: i32, a: usize, b: usize, c: usize, accumulate: bool): void {
  const panelBytes = <usize>k << 6;
  for (let p = 0; p < n >> 4; p++) {
    const cp = c + (<usize>p << 6);
    let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
    if (accumulate) {
      c0 = v128.load(cp); c1 = v128.load(cp, 16); c2 = v128.load(cp, 32); c3 = v128.load(cp, 48);
    }
    let bp = b + <usize>p * panelBytes;
    let ap = a;
    for (let q = 0; q < k; q++) {
      const x = v128.load32_splat(ap);
      c0 = madd(x, v128.load(bp), c0);
      c1 = madd(x, v128.load(bp, 16), c1);
      c2 = madd(x, v128.load(bp, 32), c2);
      c3 = madd(x, v128.load(bp, 48), c3);
      ap += 4;
      bp += 64;
    }
    v128.store(cp, c0); v128.store(cp, c1, 16); v128.store(cp, c2, 32); v128.store(cp, c3, 48);
  }
}

// @ts-ignore: decorator
@inline
function kernel4x8(k: i32, a: usize, lda: usize, b: usize, c: usize, ldc: usize, accumulate: bool, bias: usize): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  const c1 = c + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
  if (accumulate) {
    c00 = v128.load(c); c01 = v128.load(c, 16);
  } else if (bias != 0) {
    c00 = v128.load(bias); c01 = v128.load(bias, 16);
  }
  let c10 = c00, c11 = c01, c20 = c00, c21 = c01, c30 = c00, c31 = c01;
  if (accumulate) {
    c10 = v128.load(c1); c11 = v128.load(c1, 16);
    c20 = v128.load(c2); c21 = v128.load(c2, 16);
    c30 = v128.load(c3); c31 = v128.load(c3, 16);
  }
  let a0 = a;
  const a1 = lda, a2 = lda << 1, a3 = lda * 3;
  for (let p = 0; p < k; p++) {
    const b0 = v128.load(b);
    const b1 = v128.load(b, 16);
    let x = v128.load32_splat(a0);
    c00 = madd(x, b0, c00); c01 = madd(x, b1, c01);
    x = v128.load32_splat(a0 + a1);
    c10 = madd(x, b0, c10); c11 = madd(x, b1, c11);
    x = v128.load32_splat(a0 + a2);
    c20 = madd(x, b0, c20); c21 = madd(x, b1, c21);
    x = v128.load32_splat(a0 + a3);
    c30 = madd(x, b0, c30); c31 = madd(x, b1, c31);
    a0 += 4;
    b += 32;
  }
  v128.store(c, c00); v128.store(c, c01, 16);
  v128.store(c1, c10); v128.store(c1, c11, 16);
  v128.store(c2, c20); v128.store(c2, c21, 16);
  v128.store(c3, c30); v128.store(c3, c31, 16);
}

// @ts-ignore: decorator
@inline
function kernel1x8(k: i32, a: usize, b: usize, c: usize, accumulate: bool, bias: usize): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0);
  if (accumulate) {
    c0 = v128.load(c);
    c1 = v128.load(c, 16);
  } else if (bias != 0) {
    c0 = v128.load(bias);
    c1 = v128.load(bias, 16);
  }
  for (let p = 0; p < k; p++) {
    const x = v128.load32_splat(a);
    c0 = madd(x, v128.load(b), c0);
    c1 = madd(x, v128.load(b, 16), c1);
    a += 4;
    b += 32;
  }
  v128.store(c, c0);
  v128.store(c, c1, 16);
}

// One row against two panels at once: four independent accumulator chains hide the add latency that
// limits kernel1x8 when there is a single row (the streaming case, m = 1). Four panels at once
// (eight chains) measured slower: too many concurrent streams and registers. Every kernel here sums
// each output over k in order, so a row's result never depends on which rows share its batch (a cell
// stepped by hand equals the module bit for bit; tested). One panel with k split into even and odd
// sums was 8% faster on the batch-1 stream but breaks that, so it is not used.
// @ts-ignore: decorator
@inline
function kernel1x16(k: i32, a: usize, b: usize, panelBytes: usize, c: usize, accumulate: bool, bias: usize): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
  if (accumulate) {
    c0 = v128.load(c); c1 = v128.load(c, 16); c2 = v128.load(c, 32); c3 = v128.load(c, 48);
  } else if (bias != 0) {
    c0 = v128.load(bias); c1 = v128.load(bias, 16); c2 = v128.load(bias, 32); c3 = v128.load(bias, 48);
  }
  const b1 = b + panelBytes;
  let o: usize = 0;
  for (let p = 0; p < k; p++) {
    const x = v128.load32_splat(a);
    c0 = madd(x, v128.load(b + o), c0);
    c1 = madd(x, v128.load(b + o, 16), c1);
    c2 = madd(x, v128.load(b1 + o), c2);
    c3 = madd(x, v128.load(b1 + o, 16), c3);
    a += 4;
    o += 32;
  }
  v128.store(c, c0); v128.store(c, c1, 16); v128.store(c, c2, 32); v128.store(c, c3, 48);
}

/**
 * C (+)= A @ B. `lda` and `ldc` are row strides in floats; `b` is packed with `packB`.
 * Columns n..roundUp8(n) of C are written too (with the product of the zero padding).
 */
export function gemm(m: i32, n: i32, k: i32, a: usize, lda: i32, b: usize, c: usize, ldc: i32, accumulate: bool): void {
  gemmBias(m, n, k, a, lda, b, c, ldc, accumulate, 0);
}

/**
 * `gemm`, where without `accumulate` a nonzero `bias` (roundUp8(n) floats) starts every row's sums:
 * C = bias + A @ B with the products added to it in order, which spares the layers' input projection
 * a second pass over C.
 */
export function gemmBias(m: i32, n: i32, k: i32, a: usize, lda: i32, b: usize, c: usize, ldc: i32, accumulate: bool, bias: usize): void {
  const panels = (n + 7) >> 3;
  const panelBytes = <usize>k << 5;
  const ldaBytes = <usize>lda << 2;
  const ldcBytes = <usize>ldc << 2;
  const m4 = m & ~3;
  for (let i0 = 0; i0 < m4; i0 += MC) {
    const iEnd = min(m4, i0 + MC);
    for (let p = 0; p < panels; p++) {
      const bp = b + <usize>p * panelBytes;
      const cp = c + (<usize>p << 5);
      for (let i = i0; i < iEnd; i += 4) {
        kernel4x8(k, a + <usize>i * ldaBytes, ldaBytes, bp, cp + <usize>i * ldcBytes, ldcBytes, accumulate, bias != 0 ? bias + (<usize>p << 5) : 0);
      }
    }
  }
  for (let i = m4; i < m; i++) {
    const ai = a + <usize>i * ldaBytes;
    const ci = c + <usize>i * ldcBytes;
    let p = 0;
    for (; p + 2 <= panels; p += 2) {
      kernel1x16(k, ai, b + <usize>p * panelBytes, panelBytes, ci + (<usize>p << 5), accumulate, bias != 0 ? bias + (<usize>p << 5) : 0);
    }
    for (; p < panels; p++) kernel1x8(k, ai, b + <usize>p * panelBytes, ci + (<usize>p << 5), accumulate, bias != 0 ? bias + (<usize>p << 5) : 0);
  }
}
