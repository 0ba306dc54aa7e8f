// Cache-blocked GEMM on Float32Array: K and N are tiled so a B panel stays in cache, and a 4x4
// register-blocked micro-kernel accumulates in float64 locals (16 multiply-adds per 8 loads).

const KC = 256;
const NC = 512;

/**
 * `C[m,n] = A[m,k] @ B[k,n]` (or `C += A @ B` when `accumulate`), all row-major with leading
 * dimensions `lda`, `ldb`, `ldc` and element offsets into each array.
 */
export function gemm(
  m: number,
  n: number,
  k: number,
  a: Float32Array,
  aOff: number,
  lda: number,
  b: Float32Array,
  bOff: number,
  ldb: number,
  c: Float32Array,
  cOff: number,
  ldc: number,
  accumulate: boolean,
): void {
  if (!accumulate) {
    for (let i = 0; i < m; i++) c.fill(0, cOff + i * ldc, cOff + i * ldc + n);
  }
  if (k === 0) return;
  for (let p0 = 0; p0 < k; p0 += KC) {
    const kc = Math.min(KC, k - p0);
    for (let j0 = 0; j0 < n; j0 += NC) {
      const nc = Math.min(NC, n - j0);
      let i = 0;
      for (; i + 4 <= m; i += 4) {
        block4(kc, j0, nc, a, aOff + i * lda + p0, lda, b, bOff + p0 * ldb, ldb, c, cOff + i * ldc, ldc);
      }
      for (; i < m; i++) {
        block1(kc, j0, nc, a, aOff + i * lda + p0, b, bOff + p0 * ldb, ldb, c, cOff + i * ldc);
      }
    }
  }
}

/** Four rows of C, columns j0..j0+nc, over kc steps of k. */
function block4(
  kc: number,
  j0: number,
  nc: number,
  a: Float32Array,
  ai: number,
  lda: number,
  b: Float32Array,
  bp: number,
  ldb: number,
  c: Float32Array,
  ci: number,
  ldc: number,
): void {
  const a1 = ai + lda;
  const a2 = a1 + lda;
  const a3 = a2 + lda;
  const c1 = ci + ldc;
  const c2 = c1 + ldc;
  const c3 = c2 + ldc;
  const je = j0 + nc;
  let j = j0;
  for (; j + 4 <= je; j += 4) {
    let s00 = 0, s01 = 0, s02 = 0, s03 = 0;
    let s10 = 0, s11 = 0, s12 = 0, s13 = 0;
    let s20 = 0, s21 = 0, s22 = 0, s23 = 0;
    let s30 = 0, s31 = 0, s32 = 0, s33 = 0;
    let bi = bp + j;
    for (let p = 0; p < kc; p++, bi += ldb) {
      const b0 = b[bi]!, b1 = b[bi + 1]!, b2 = b[bi + 2]!, b3 = b[bi + 3]!;
      const x0 = a[ai + p]!, x1 = a[a1 + p]!, x2 = a[a2 + p]!, x3 = a[a3 + p]!;
      s00 += x0 * b0; s01 += x0 * b1; s02 += x0 * b2; s03 += x0 * b3;
      s10 += x1 * b0; s11 += x1 * b1; s12 += x1 * b2; s13 += x1 * b3;
      s20 += x2 * b0; s21 += x2 * b1; s22 += x2 * b2; s23 += x2 * b3;
      s30 += x3 * b0; s31 += x3 * b1; s32 += x3 * b2; s33 += x3 * b3;
    }
    c[ci + j]! += s00; c[ci + j + 1]! += s01; c[ci + j + 2]! += s02; c[ci + j + 3]! += s03;
    c[c1 + j]! += s10; c[c1 + j + 1]! += s11; c[c1 + j + 2]! += s12; c[c1 + j + 3]! += s13;
    c[c2 + j]! += s20; c[c2 + j + 1]! += s21; c[c2 + j + 2]! += s22; c[c2 + j + 3]! += s23;
    c[c3 + j]! += s30; c[c3 + j + 1]! += s31; c[c3 + j + 2]! += s32; c[c3 + j + 3]! += s33;
  }
  for (; j < je; j++) {
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    let bi = bp + j;
    for (let p = 0; p < kc; p++, bi += ldb) {
      const bv = b[bi]!;
      s0 += a[ai + p]! * bv;
      s1 += a[a1 + p]! * bv;
      s2 += a[a2 + p]! * bv;
      s3 += a[a3 + p]! * bv;
    }
    c[ci + j]! += s0;
    c[c1 + j]! += s1;
    c[c2 + j]! += s2;
    c[c3 + j]! += s3;
  }
}

/** One row of C (the streaming case, m = 1), four columns at a time. */
function block1(
  kc: number,
  j0: number,
  nc: number,
  a: Float32Array,
  ai: number,
  b: Float32Array,
  bp: number,
  ldb: number,
  c: Float32Array,
  ci: number,
): void {
  const je = j0 + nc;
  let j = j0;
  for (; j + 4 <= je; j += 4) {
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    let bi = bp + j;
    for (let p = 0; p < kc; p++, bi += ldb) {
      const x = a[ai + p]!;
      s0 += x * b[bi]!;
      s1 += x * b[bi + 1]!;
      s2 += x * b[bi + 2]!;
      s3 += x * b[bi + 3]!;
    }
    c[ci + j]! += s0;
    c[ci + j + 1]! += s1;
    c[ci + j + 2]! += s2;
    c[ci + j + 3]! += s3;
  }
  for (; j < je; j++) {
    let s = 0;
    let bi = bp + j;
    for (let p = 0; p < kc; p++, bi += ldb) s += a[ai + p]! * b[bi]!;
    c[ci + j]! += s;
  }
}

/** B `[k, n]` (row-major, leading dimension `ldb`) packed into 4-column panels `[ceil(n/4)][k][4]`, zero-padded. */
export function packPanels(b: Float32Array, k: number, n: number, ldb = n): Float32Array {
  const panels = Math.ceil(n / 4);
  const out = new Float32Array(panels * k * 4);
  for (let p = 0, o = 0; p < panels; p++) {
    for (let q = 0; q < k; q++) {
      for (let jj = 0; jj < 4; jj++, o++) {
        const j = p * 4 + jj;
        if (j < n) out[o] = b[q * ldb + j]!;
      }
    }
  }
  return out;
}

const MB = 48;

/**
 * `C[m,n] = A[m,k] @ B` (or `+=` when `accumulate`) with B packed by `packPanels`: each panel is read
 * sequentially by a 3x4 register block (twelve float64 accumulators, which V8 keeps in registers),
 * for a block of A's rows small enough to stay in cache. The kernel of the fused layers.
 */
export function gemmPacked(
  m: number,
  n: number,
  k: number,
  a: Float32Array,
  aOff: number,
  lda: number,
  bp: Float32Array,
  c: Float32Array,
  cOff: number,
  ldc: number,
  accumulate: boolean,
): void {
  if (!accumulate) {
    for (let i = 0; i < m; i++) c.fill(0, cOff + i * ldc, cOff + i * ldc + n);
  }
  if (k === 0) return;
  const panels = Math.ceil(n / 4);
  for (let i0 = 0; i0 < m; i0 += MB) {
    const iEnd = Math.min(m, i0 + MB);
    for (let p = 0; p < panels; p++) {
      const base = p * k * 4;
      const j = p * 4;
      const w = Math.min(4, n - j);
      let i = i0;
      for (; i + 3 <= iEnd; i += 3) {
        let s00 = 0, s01 = 0, s02 = 0, s03 = 0;
        let s10 = 0, s11 = 0, s12 = 0, s13 = 0;
        let s20 = 0, s21 = 0, s22 = 0, s23 = 0;
        const a0 = aOff + i * lda;
        const a1 = a0 + lda;
        const a2 = a1 + lda;
        for (let q = 0, bi = base; q < k; q++, bi += 4) {
          const b0 = bp[bi]!, b1 = bp[bi + 1]!, b2 = bp[bi + 2]!, b3 = bp[bi + 3]!;
          const x0 = a[a0 + q]!, x1 = a[a1 + q]!, x2 = a[a2 + q]!;
          s00 += x0 * b0; s01 += x0 * b1; s02 += x0 * b2; s03 += x0 * b3;
          s10 += x1 * b0; s11 += x1 * b1; s12 += x1 * b2; s13 += x1 * b3;
          s20 += x2 * b0; s21 += x2 * b1; s22 += x2 * b2; s23 += x2 * b3;
        }
        const o = cOff + i * ldc + j;
        addRow(c, o, w, s00, s01, s02, s03);
        addRow(c, o + ldc, w, s10, s11, s12, s13);
        addRow(c, o + 2 * ldc, w, s20, s21, s22, s23);
      }
      for (; i < iEnd; i++) {
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        const a0 = aOff + i * lda;
        for (let q = 0, bi = base; q < k; q++, bi += 4) {
          const x = a[a0 + q]!;
          s0 += x * bp[bi]!;
          s1 += x * bp[bi + 1]!;
          s2 += x * bp[bi + 2]!;
          s3 += x * bp[bi + 3]!;
        }
        addRow(c, cOff + i * ldc + j, w, s0, s1, s2, s3);
      }
    }
  }
}

/** Adds the first `w` (1 to 4) sums to c[o..o+w): the last panel may be partly padding. */
function addRow(c: Float32Array, o: number, w: number, s0: number, s1: number, s2: number, s3: number): void {
  c[o]! += s0;
  if (w > 1) c[o + 1]! += s1;
  if (w > 2) c[o + 2]! += s2;
  if (w > 3) c[o + 3]! += s3;
}
