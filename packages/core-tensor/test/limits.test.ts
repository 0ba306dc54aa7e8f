// Sizes no machine can hold (issue 17, class 6): every creation helper refuses them up front, fast and
// without allocating, with a recur error naming the function, the shape and the bytes it would need;
// and every dimension is a safe integer, also in an empty shape.

import { describe, expect, it } from 'vitest';
import { RangeArgumentError, RecurError, ShapeError } from '../src/errors.js';
import { MAX_ELEMENTS, WASM_MEMORY_BYTES, checkElements } from '../src/limits.js';
import { Tensor, full, ones, rand, randn, tensor, zeros } from '../src/tensor.js';

/** Runs `f`, expecting it to throw quickly; returns the error. */
function refusedFast(f: () => unknown): Error {
  // Refused before allocating: at most a few MB of array buffers (a timed bound would be flaky; the
  // sizes here would take seconds and gigabytes to fill).
  const buffersBefore = process.memoryUsage().arrayBuffers;
  let error: unknown = null;
  try {
    f();
  } catch (e) {
    error = e;
  }
  expect(process.memoryUsage().arrayBuffers - buffersBefore).toBeLessThan(2 ** 24);
  expect(error).toBeInstanceOf(Error);
  expect(RecurError.isInstance(error)).toBe(true);
  return error as Error;
}

describe('checkElements', () => {
  it('passes counts up to MAX_ELEMENTS and names where, what and both limits beyond', () => {
    expect(MAX_ELEMENTS).toBe(2 ** 30);
    expect(WASM_MEMORY_BYTES).toBe(2 ** 32);
    expect(checkElements('f', 'x', 0)).toBe(0);
    expect(checkElements('f', 'x', MAX_ELEMENTS)).toBe(MAX_ELEMENTS);
    const e = refusedFast(() => checkElements('zeros', 'shape [100000,100000]', 1e10));
    expect(e).toBeInstanceOf(RangeArgumentError);
    expect(e).toBeInstanceOf(RangeError);
    expect(e.message).toBe(
      'zeros: shape [100000,100000] would need 10000000000 float32 values (40000000000 bytes, 37.3 GiB); ' +
        'recur holds at most 1073741824 values (4 GiB) in one tensor or module, what wasm memory can hold (at most 4294967296 bytes)',
    );
  });

  it('writes counts past 2^53 in exponent form and refuses NaN and Infinity', () => {
    expect(() => checkElements('f', 'x', 2 ** 53 * 3)).toThrow(/would need 2\.702e\+16 float32 values \(1\.081e\+17 bytes/);
    expect(() => checkElements('f', 'x', Number.POSITIVE_INFINITY)).toThrow(RangeArgumentError);
    expect(() => checkElements('f', 'x', Number.NaN)).toThrow(RangeArgumentError);
  });
});

describe('creation helpers refuse sizes no machine can hold', () => {
  const huge: Array<[string, () => unknown]> = [
    ['zeros', () => zeros([1e5, 1e5])],
    ['ones', () => ones([1e5, 1e5])],
    ['full', () => full([1e5, 1e5], 2)],
    ['randn', () => randn([1e5, 1e5], { seed: 0 })],
    ['rand', () => rand([1e5, 1e5], { seed: 0 })],
    ['tensor', () => tensor([1], [1e5, 1e5])],
    ['Tensor', () => new Tensor(new Float32Array(1), [1e5, 1e5])],
  ];

  it.each(huge)('%s([1e5, 1e5]) is a RangeArgumentError with the bytes it would need', (name, f) => {
    const e = refusedFast(f);
    expect(e).toBeInstanceOf(RangeArgumentError);
    expect(e.message).toMatch(new RegExp(`^${name}: shape \\[100000,100000\\] would need 10000000000 float32 values \\(40000000000 bytes`));
    expect(e.message).toMatch(/at most 1073741824 values/);
    expect(e.message).toMatch(/4 GiB/);
  });

  it('refuses 1e9, 2^53 and many-dimension shapes just past the limit', () => {
    expect(refusedFast(() => zeros([2 ** 53 - 1])).message).toMatch(/^zeros: shape \[9007199254740991\] would need 9007199254740991 float32 values \(3\.603e\+16 bytes/);
    expect(refusedFast(() => zeros([1e9, 4]))).toBeInstanceOf(RangeArgumentError);
    expect(refusedFast(() => zeros([2 ** 31]))).toBeInstanceOf(RangeArgumentError);
    expect(refusedFast(() => zeros(new Array(40).fill(2 ** 52)))).toBeInstanceOf(RangeArgumentError);
  });

  it('nested arrays that share one row are counted before anything is allocated', () => {
    const row = new Array(100_000).fill(0);
    const rows = new Array(100_000).fill(row);
    const e = refusedFast(() => tensor(rows));
    expect(e).toBeInstanceOf(RangeArgumentError);
    expect(e.message).toMatch(/^tensor: shape \[100000,100000\] would need/);
  });

  it('reshape and view to a huge shape are refused the same way', () => {
    expect(refusedFast(() => zeros([0]).reshape([2 ** 64, 0]))).toBeInstanceOf(ShapeError);
    expect(zeros([0]).reshape([1e10, 0]).shape).toEqual([1e10, 0]);
    expect(refusedFast(() => zeros([4]).reshape([1e5, 1e5]))).toBeInstanceOf(RangeArgumentError);
  });
});

describe('every dimension is a safe integer, whatever the product', () => {
  it.each([
    [[0, 2 ** 64 - 1]],
    [[0, 1e300]],
    [[2 ** 53, 0]],
    [[0, Number.POSITIVE_INFINITY]],
  ])('zeros(%j) is a ShapeError naming the dimension', (shape) => {
    const e = refusedFast(() => zeros(shape));
    expect(e).toBeInstanceOf(ShapeError);
    expect(e.message).toMatch(/^zeros: expected a shape of non-negative integers, got \[.*\] \(bad dimension /);
  });

  it('says why an integer past 2^53 is refused', () => {
    expect(() => tensor(new Float32Array(0), [0, 2 ** 64])).toThrow(
      'tensor: expected a shape of non-negative integers, got [0,18446744073709552000] (bad dimension 18446744073709552000, past 2^53 - 1 where integers are not exact)',
    );
    expect(() => new Tensor(new Float32Array(0), [2 ** 53, 0])).toThrow(ShapeError);
  });

  it('keeps empty tensors with large safe dimensions, and products past 2^1024 that are empty', () => {
    expect(zeros([0, 2 ** 53 - 1]).size).toBe(0);
    expect(zeros([1e9, 1e9, 0]).shape).toEqual([1e9, 1e9, 0]);
    expect(zeros([...new Array(40).fill(2 ** 52), 0]).size).toBe(0);
  });

  it('still accepts everything up to the limit it used to', () => {
    expect(zeros([2, 3]).size).toBe(6);
    expect(tensor(3).shape).toEqual([]);
    expect(zeros([0]).size).toBe(0);
  });
});
