// Small tensor helpers for the tests: indexing along leading dimensions and column slices.

import type { Tensor } from '@recur/core-tensor';

/** Values of `t[i0][i1]...` for leading indices (negative counts from the end), as a flat array. */
export function at(t: Tensor, ...idx: number[]): Float32Array {
  let offset = 0;
  let stride = t.size;
  idx.forEach((raw, d) => {
    const n = t.shape[d]!;
    const i = raw < 0 ? n + raw : raw;
    stride /= n;
    offset += i * stride;
  });
  return t.values.slice(offset, offset + stride);
}

/** Columns [from, from + n) of every row of width `width`. */
export function columns(values: Float32Array, width: number, from: number, n: number): Float32Array {
  const rows = values.length / width;
  const out = new Float32Array(rows * n);
  for (let r = 0; r < rows; r++) out.set(values.subarray(r * width + from, r * width + from + n), r * n);
  return out;
}
