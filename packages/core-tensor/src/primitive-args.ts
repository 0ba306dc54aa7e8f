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

/** Checks a permutation of a contiguous tensor's axes; returns the element count. */
export function checkPermutation(x: Float32Array, shape: readonly number[], perm: readonly number[]): number {
  const rank = shape.length;
  const sorted = [...perm].sort((p, q) => p - q);
  if (perm.length !== rank || sorted.some((p, i) => p !== i)) {
    throw new ShapeError(`transpose: expected a permutation of 0..${rank - 1}, got ${formatShape(perm)}`);
  }
  const size = shape.reduce((p, d) => p * d, 1);
  if (x.length !== size) {
    throw new ShapeError(`transpose: data has ${x.length} values, expected ${size} for shape ${formatShape(shape)}`);
  }
  return size;
}

/** The caller's `out` array if it has `length` values (else a ShapeError), or a new one. */
export function outArray(where: string, out: Float32Array | undefined, length: number): Float32Array {
  if (!out) return new Float32Array(length);
  if (out.length !== length) throw new ShapeError(`${where}: expected an out array of ${length} values, got ${out.length}`);
  return out;
}
