// Small tensor helpers for the tests: indexing along leading dimensions and column slices.

import type { Tensor } from '@recur/core-tensor';
import { expect } from 'vitest';

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

/** A value PyTorch computed in float64, with the tolerance its own float32 error sets. */
export interface Expected {
  shape: number[];
  data: number[];
  atol: number;
}

/** Worst |got - expected| against the fixture's tolerance. */
export function expectNear(got: Tensor | null | undefined, e: Expected, label: string): void {
  expect(got, `${label} is missing`).toBeTruthy();
  expect(got!.shape, label).toEqual(e.shape);
  let worst = 0;
  let at = 0;
  got!.values.forEach((v, i) => {
    const d = Math.abs(v - e.data[i]!);
    if (!(d <= worst)) {
      worst = d;
      at = i;
    }
  });
  expect(worst <= e.atol, `${label}: |recur - PyTorch float64| = ${worst} at ${at} exceeds ${e.atol.toExponential(2)}`).toBe(true);
}

