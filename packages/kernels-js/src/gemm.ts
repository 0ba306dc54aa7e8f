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
