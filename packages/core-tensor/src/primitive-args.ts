// Argument checks of the primitive kernels, shared by every backend so that they all reject the
// same input with the same message.

import { ShapeError, formatShape } from './errors.js';

/** Checks `matmul`'s operands: `a` `[m,k]`, `b` `[k,n]` (or `[n,k]` when `transB`). */
export function checkMatmulArgs(a: Float32Array, b: Float32Array, m: number, k: number, n: number, transB: boolean): void {
  if (a.length !== m * k) throw new ShapeError(`matmul: a expected ${m * k} values for [${m},${k}], got ${a.length}`);
  if (b.length !== k * n) {
    throw new ShapeError(`matmul: b expected ${k * n} values for ${transB ? `[${n},${k}]` : `[${k},${n}]`}, got ${b.length}`);
  }
}

/** Checks that `b` broadcasts over `a` as a repeated row (its length divides `a`'s). */
export function checkBroadcast(op: string, a: Float32Array, b: Float32Array): void {
  if (b.length === 0 || a.length % b.length !== 0) {
    throw new ShapeError(`binary(${op}): cannot broadcast ${b.length} values over ${a.length}; expected a length dividing ${a.length}`);
  }
}

/**
 * Checks a permutation of a contiguous tensor's axes and plans the walk: the output walks the input
 * with `inStrides[d]` (the input stride of output axis d) over `outShape`.
 */
export function planPermutation(
  x: Float32Array,
  shape: readonly number[],
  perm: readonly number[],
): { size: number; outShape: number[]; inStrides: number[] } {
  const rank = shape.length;
  const sorted = [...perm].sort((p, q) => p - q);
  if (perm.length !== rank || sorted.some((p, i) => p !== i)) {
    throw new ShapeError(`transpose: expected a permutation of 0..${rank - 1}, got ${formatShape(perm)}`);
  }
  const size = shape.reduce((p, d) => p * d, 1);
  if (x.length !== size) {
    throw new ShapeError(`transpose: data has ${x.length} values, expected ${size} for shape ${formatShape(shape)}`);
  }
  const strides = new Array<number>(rank);
  for (let d = rank - 1, s = 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d]!;
  }
  return { size, outShape: perm.map((p) => shape[p]!), inStrides: perm.map((p) => strides[p]!) };
}

/** The caller's `out` array if it has `length` values (else a ShapeError), or a new one. */
export function outArray(where: string, out: Float32Array | undefined, length: number): Float32Array {
  if (!out) return new Float32Array(length);
  if (out.length !== length) throw new ShapeError(`${where}: expected an out array of ${length} values, got ${out.length}`);
  return out;
}
