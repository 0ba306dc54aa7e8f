// PackedSequence fields and the lengths of the pack/pad functions are checked where they enter
// (issue 17, class 7): indices that are not a permutation of the batch, batch sizes that no packing
// produces, and lengths or options of the wrong kind are recur errors that say what was expected and
// what was given, never silent zeros or an internal "offset is out of bounds".

import { ArgumentError, RangeArgumentError, RecurError, ShapeError, Tensor, randn, tensor, zeros } from '@recur/core-tensor';
import { describe, expect, it } from 'vitest';
import {
  GRU,
  LSTM,
  PackedSequence,
  packPaddedSequence,
  packSequence,
  padPackedSequence,
  padSequence,
  unpackSequence,
  unpadSequence,
} from '../src/index.js';

/** Calls `call` and returns what it threw, checking it is a recur error of `kind` and quick to throw. */
function thrown(call: () => unknown, kind: { isInstance(e: unknown): boolean }): Error {
  const buffersBefore = process.memoryUsage().arrayBuffers;
  try {
    call();
  } catch (e) {
    expect(process.memoryUsage().arrayBuffers - buffersBefore).toBeLessThan(2 ** 24);
    expect(RecurError.isInstance(e)).toBe(true);
    expect(kind.isInstance(e)).toBe(true);
    return e as Error;
  }
  throw new Error('expected a throw, got none');
}

// Two sequences of lengths 2 and 1, packed: 3 rows of 1 feature.
const data = () => tensor([[1], [2], [3]]);
const sizes = () => Int32Array.of(2, 1);

describe('PackedSequence checks sortedIndices and unsortedIndices', () => {
  it.each([
    ['[0] for a batch of 2', [0], ShapeError, 'expected sortedIndices to be a permutation of the batch of 2 (batchSizes[0]), got 1 indices'],
    ['[0, 1, 2] for a batch of 2', [0, 1, 2], ShapeError, 'got 3 indices'],
    ['[5, 0]', [5, 0], RangeArgumentError, 'expected sortedIndices to be a permutation of 0..1, got sortedIndices[0] = 5'],
    ['[-1, 0]', [-1, 0], RangeArgumentError, 'expected sortedIndices to be a permutation of 0..1, got sortedIndices[0] = -1'],
    ['[0, 0]', [0, 0], ArgumentError, 'expected sortedIndices to be a permutation of 0..1 (each index once), got 0 twice, again at sortedIndices[1]'],
    ['[0.5, 1]', [0.5, 1], ArgumentError, 'expected sortedIndices of integers, got sortedIndices[0] = number 0.5'],
    ['[NaN, 1]', [Number.NaN, 1], ArgumentError, 'got sortedIndices[0] = number NaN'],
    ['[2**40, 0]', [2 ** 40, 0], RangeArgumentError, 'expected sortedIndices of 32-bit integers, got sortedIndices[0] = number 1099511627776'],
    ['["1", 0]', ['1', 0], ArgumentError, "got sortedIndices[0] = the string '1'"],
    ['a string', '10', ArgumentError, "expected sortedIndices as an Int32Array or an array of integers, got the string '10'"],
    ['a Float32Array', Float32Array.of(1, 0), ArgumentError, 'got a Float32Array of 2'],
    ['a Tensor', tensor([1, 0]), ArgumentError, 'got a tensor of shape [2]'],
    ['Int32Array [5, 0]', Int32Array.of(5, 0), RangeArgumentError, 'got sortedIndices[0] = 5'],
    ['Int32Array [1, 1]', Int32Array.of(1, 1), ArgumentError, 'got 1 twice, again at sortedIndices[1]'],
  ])('refuses sortedIndices %s', (_label, indices, kind, message) => {
    const e = thrown(() => new PackedSequence(data(), sizes(), indices as never), kind);
    expect(e.message).toMatch(/^PackedSequence: expected sortedIndices /);
    expect(e.message).toContain(message);
  });

  it.each([
    ['[5, 0]', [1, 0], [5, 0], RangeArgumentError, 'expected unsortedIndices to be a permutation of 0..1, got unsortedIndices[0] = 5'],
    ['[0, 0]', [1, 0], [0, 0], ArgumentError, 'got 0 twice, again at unsortedIndices[1]'],
    ['not the inverse', [1, 0, 2], [1, 2, 0], ArgumentError, 'expected unsortedIndices to be the inverse of sortedIndices (unsortedIndices[sortedIndices[i]] = i), got unsortedIndices[1] = 2 for i = 0'],
    ['without sortedIndices', null, [1, 0], ArgumentError, 'expected unsortedIndices only with sortedIndices (as their inverse), got unsortedIndices alone'],
  ])('refuses unsortedIndices %s', (_label, sorted, unsorted, kind, message) => {
    const rows = sorted && sorted.length === 3 ? tensor([[1], [2], [3], [4]]) : data();
    const batchSizes = sorted && sorted.length === 3 ? Int32Array.of(3, 1) : sizes();
    const e = thrown(() => new PackedSequence(rows, batchSizes, sorted, unsorted), kind);
    expect(e.message).toMatch(/^PackedSequence: expected unsortedIndices /);
    expect(e.message).toContain(message);
  });

  it('accepts a permutation as an array or Int32Array, copies it and derives its inverse', () => {
    const sorted = [2, 0, 1];
    const p = new PackedSequence(tensor([[1], [2], [3], [4]]), [3, 1], sorted);
    sorted[0] = 99;
    expect(Array.from(p.sortedIndices!)).toEqual([2, 0, 1]);
    expect(Array.from(p.unsortedIndices!)).toEqual([1, 2, 0]);
    expect(p.batchSizes).toBeInstanceOf(Int32Array);
    expect(p.lengths()).toEqual([1, 1, 2]);
    const q = new PackedSequence(tensor([[1], [2], [3], [4]]), Int32Array.of(3, 1), Int32Array.of(2, 0, 1), Int32Array.of(1, 2, 0));
    expect(Array.from(q.unsortedIndices!)).toEqual([1, 2, 0]);
  });

  it('a forward pass of a hand-built PackedSequence with bad indices never reaches the kernels', () => {
    // Before: [5, 0] gave an internal "offset is out of bounds" and [0, 0] silent zeros in hN.
    for (const bad of [[5, 0], [0, 0], [0], [-1, 0]]) {
      expect(() => new GRU(1, 2).forward(new PackedSequence(data(), sizes(), bad))).toThrow(/PackedSequence: expected sortedIndices/);
    }
  });
});

describe('PackedSequence checks data and batchSizes', () => {
  it.each([
    ['data that is not a Tensor', () => new PackedSequence(new Float32Array(3) as never, sizes()), ArgumentError, 'PackedSequence: expected data as a Tensor, got a Float32Array of 3'],
    ['batchSizes null', () => new PackedSequence(data(), null as never), ArgumentError, 'PackedSequence: expected batchSizes as an Int32Array or an array of integers, got null'],
    ['batchSizes with a zero', () => new PackedSequence(data(), [3, 0]), RangeArgumentError, 'PackedSequence: expected batchSizes of at least 1 (sequences active at each step), got batchSizes[1] = 0'],
    ['negative batchSizes', () => new PackedSequence(zeros([0, 1]), Int32Array.of(-2, 2)), RangeArgumentError, 'got batchSizes[0] = -2'],
    ['increasing batchSizes', () => new PackedSequence(data(), [1, 2]), ShapeError, 'PackedSequence: expected batchSizes that never increase (sequences sorted by decreasing length), got batchSizes[0] = 1 then batchSizes[1] = 2'],
    ['fractional batchSizes', () => new PackedSequence(data(), [1.5, 1.5]), ArgumentError, 'PackedSequence: expected batchSizes of integers, got batchSizes[0] = number 1.5'],
    ['rows that disagree', () => new PackedSequence(zeros([4, 2]), Int32Array.of(2, 1)), ShapeError, 'PackedSequence: data must have sum(batchSizes) = 3 rows, got shape [4,2]'],
  ])('refuses %s', (_label, call, kind, message) => {
    expect(thrown(call, kind).message).toContain(message);
  });
});

describe('packPaddedSequence and friends check their lengths and options', () => {
  const x = randn([3, 2, 1], { seed: 0 });
  it.each([
    ['null', null, "expected lengths as an array, Int32Array or 1-D Tensor of integers, got null"],
    ['undefined', undefined, 'got undefined'],
    ['a string', '32', "got the string '32'"],
    ['a number', 3, 'got number 3'],
    ['a Set', new Set([3, 2]), 'got a Set'],
    ['a plain object', { length: 2, 0: 3, 1: 2 }, 'got an object'],
  ])('packPaddedSequence refuses lengths %s', (_label, lengths, message) => {
    const e = thrown(() => packPaddedSequence(x, lengths as never), ArgumentError);
    expect(e.message).toBe(`packPaddedSequence: ${message.startsWith('expected') ? message : `expected lengths as an array, Int32Array or 1-D Tensor of integers, ${message}`}`);
  });

  it.each([
    ['a string element', [3, '2'], "lengths must be integers, got lengths[1] = the string '2'"],
    ['a null element', [3, null], 'lengths must be integers, got lengths[1] = null'],
    ['a fractional element', [3, 1.5], 'lengths must be integers, got lengths[1] = number 1.5'],
  ])('packPaddedSequence refuses lengths with %s', (_label, lengths, message) => {
    expect(thrown(() => packPaddedSequence(x, lengths as never), ArgumentError).message).toBe(`packPaddedSequence: ${message}`);
  });

  it('refuses a length past the sequence length, however large', () => {
    for (const big of [4, 2 ** 31, 2 ** 60, 1e300]) {
      expect(thrown(() => packPaddedSequence(x, [big, 1]), ShapeError).message).toBe(
        `packPaddedSequence: a length of ${big} exceeds the sequence length 3 of the input [3,2,1]`,
      );
    }
  });

  it('accepts lengths as an array, any integer typed array or a 1-D tensor', () => {
    for (const lengths of [[3, 2], Int32Array.of(3, 2), Float64Array.of(3, 2), Uint8Array.of(3, 2), tensor([3, 2])]) {
      expect(Array.from(packPaddedSequence(x, lengths as never).batchSizes)).toEqual([2, 2, 1]);
    }
    expect(thrown(() => packPaddedSequence(x, tensor([[3, 2]])), ShapeError).message).toBe(
      'packPaddedSequence: expected lengths as a 1-D Tensor, got shape [1,2]',
    );
  });

  it.each([
    ['packPaddedSequence options null', () => packPaddedSequence(x, [3, 2], null as never), 'packPaddedSequence: expected options as an object { batchFirst, enforceSorted }, got null'],
    ['packPaddedSequence batchFirst', () => packPaddedSequence(x, [3, 2], { batchFirst: 'yes' as never }), "packPaddedSequence: expected batchFirst as a boolean, got the string 'yes'"],
    ['packPaddedSequence enforceSorted', () => packPaddedSequence(x, [3, 2], { enforceSorted: 0 as never }), 'packPaddedSequence: expected enforceSorted as a boolean, got number 0'],
    ['padPackedSequence options null', () => padPackedSequence(packPaddedSequence(x, [3, 2]), null as never), 'padPackedSequence: expected options as an object { batchFirst, paddingValue, totalLength }, got null'],
    ['padPackedSequence paddingValue', () => padPackedSequence(packPaddedSequence(x, [3, 2]), { paddingValue: '0' as never }), "padPackedSequence: expected paddingValue as a number, got the string '0'"],
    ['padPackedSequence of a tensor', () => padPackedSequence(x as never), 'padPackedSequence: expected a PackedSequence, got a tensor of shape [3,2,1]'],
    ['unpadSequence lengths null', () => unpadSequence(x, null as never), 'unpadSequence: expected lengths as an array, Int32Array or 1-D Tensor of integers, got null'],
    ['unpadSequence options null', () => unpadSequence(x, [3, 2], null as never), 'unpadSequence: expected options as an object { batchFirst }, got null'],
    ['unpadSequence of an array', () => unpadSequence([1, 2] as never, [3, 2]), 'unpadSequence: expected a padded Tensor, got an array of 2'],
    ['padSequence options null', () => padSequence([tensor([1])], null as never), 'padSequence: expected options as an object { batchFirst, paddingValue }, got null'],
    ['packSequence options null', () => packSequence([tensor([1])], null as never), 'packSequence: expected options as an object { enforceSorted }, got null'],
    ['padSequence of a number', () => padSequence([tensor([1]), 3 as never]), 'padSequence: expected sequence 1 as a Tensor, got number 3'],
  ])('refuses %s', (_label, call, message) => {
    expect(thrown(call, ArgumentError).message).toBe(message);
  });

  it('pads many short sequences without spreading them onto the stack', () => {
    const many = Array.from({ length: 200_000 }, () => new Tensor(new Float32Array(1), [1]));
    expect(padSequence(many).shape).toEqual([1, 200_000]);
  });

  it('still packs, runs and unpacks sorted and unsorted batches', () => {
    const lstm = new LSTM(1, 2, { seed: 3 });
    const packed = packPaddedSequence(x, [2, 3], { enforceSorted: false });
    const [out, [hN]] = lstm.forward(packed);
    expect(out).toBeInstanceOf(PackedSequence);
    expect(Array.from(out.sortedIndices!)).toEqual([1, 0]);
    expect(hN.shape).toEqual([1, 2, 2]);
    expect(unpackSequence(out).map((t) => t.shape)).toEqual([
      [2, 2],
      [3, 2],
    ]);
  });
});
