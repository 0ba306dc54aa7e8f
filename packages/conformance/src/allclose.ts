// The suite's one tolerance and a vitest matcher that reports the worst element.

import { expect } from 'vitest';

/** Agreement required between recur and PyTorch, and between backends: |a-b| <= ATOL + RTOL*|b|. */
export const ATOL = 5e-5;
export const RTOL = 1e-5;

export interface CloseReport {
  pass: boolean;
  worst: number;
  index: number;
  actual: number;
  expected: number;
}

export function compareClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  atol = ATOL,
  rtol = RTOL,
): CloseReport {
  let worst = 0;
  let index = -1;
  let pass = actual.length === expected.length;
  for (let i = 0; i < Math.min(actual.length, expected.length); i++) {
    const e = expected[i]!;
    if (Number.isNaN(e) && Number.isNaN(actual[i]!)) continue;
    let err = Math.abs(actual[i]! - e);
    if (Number.isNaN(err)) err = Number.POSITIVE_INFINITY;
    if (!(err <= atol + rtol * Math.abs(e))) pass = false;
    if (err > worst || index === -1) {
      worst = err;
      index = i;
    }
  }
  return { pass, worst, index, actual: actual[index]! ?? Number.NaN, expected: expected[index]! ?? Number.NaN };
}

expect.extend({
  toBeAllclose(received: ArrayLike<number>, expected: ArrayLike<number>, opts?: { atol?: number; rtol?: number }) {
    const r = compareClose(received, expected, opts?.atol ?? ATOL, opts?.rtol ?? RTOL);
    return {
      pass: r.pass,
      message: () =>
        received.length !== expected.length
          ? `expected ${expected.length} values, got ${received.length}`
          : `max abs error ${r.worst.toExponential(3)} at index ${r.index} (got ${r.actual}, expected ${r.expected}); tolerance atol ${opts?.atol ?? ATOL} + rtol ${opts?.rtol ?? RTOL}`,
    };
  },
});

interface AllcloseMatchers<R = unknown> {
  toBeAllclose(expected: ArrayLike<number>, opts?: { atol?: number; rtol?: number }): R;
}

declare module 'vitest' {
  // biome-ignore lint/suspicious/noExplicitAny: must repeat vitest's own declaration to merge with it
  interface Assertion<T = any> extends AllcloseMatchers<T> {}
  interface AsymmetricMatchersContaining extends AllcloseMatchers {}
}
