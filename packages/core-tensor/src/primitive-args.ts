// Argument checks of the primitive kernels, shared by every backend so that they all reject the
// same input with the same message.

import { ShapeError } from './errors.js';

/** Checks `matmul`'s operands: `a` `[m,k]`, `b` `[k,n]` (or `[n,k]` when `transB`). */
export function checkMatmulArgs(a: Float32Array, b: Float32Array, m: number, k: number, n: number, transB: boolean): void {
  if (a.length !== m * k) throw new ShapeError(`matmul: a expected ${m * k} values for [${m},${k}], got ${a.length}`);
  if (b.length !== k * n) {
    throw new ShapeError(`matmul: b expected ${k * n} values for ${transB ? `[${n},${k}]` : `[${k},${n}]`}, got ${b.length}`);
  }
}

/** The caller's `out` array if it has `length` values (else a ShapeError), or a new one. */
export function outArray(where: string, out: Float32Array | undefined, length: number): Float32Array {
  if (!out) return new Float32Array(length);
  if (out.length !== length) throw new ShapeError(`${where}: expected an out array of ${length} values, got ${out.length}`);
  return out;
}
