// Sizes no machine can hold (issue 17, class 6): module options, stream batches and padding lengths
// whose buffers could never be allocated are refused up front, without
// allocating, by a recur error that names the module or function, the option and the size it would need.

import { MAX_ELEMENTS, RangeArgumentError, RecurError, ShapeError, randn, tensor } from '@recur/core-tensor';
import { describe, expect, it } from 'vitest';
import { GRU, GRUCell, LSTM, LSTMCell, RNN, RNNCell, packSequence, padPackedSequence, padSequence } from '../src/index.js';

/** Runs `f`, expecting a recur error and no large array allocated; returns the error. */
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
  expect(process.memoryUsage().arrayBuffers - buffersBefore).toBeLessThan(16 << 20);
  expect(RecurError.isInstance(error)).toBe(true);
  return error as Error;
}

const SIZE_MESSAGE = /would need \S+ float32 values \(\S+ bytes, \S+ GiB\); recur holds at most 1073741824 values \(4 GiB\) in one tensor or module, what wasm memory can hold \(at most 4294967296 bytes\)/;

describe('module options whose parameters no machine can hold', () => {
  it('new LSTM(1e9, 1) is refused at once, naming the sizes and the bytes they need', () => {
    const e = refusedFast(() => new LSTM(1e9, 1));
    expect(e).toBeInstanceOf(RangeArgumentError);
    expect(e).toBeInstanceOf(RangeError);
    // weight_ih [4, 1e9] + weight_hh [4, 1] + two biases of 4.
    expect(e.message).toMatch(
      /^LSTM: the parameters of inputSize 1000000000, hiddenSize 1, numLayers 1 would need 4000000012 float32 values \(16000000048 bytes, 14\.9 GiB\)/,
    );
    expect(e.message).toMatch(SIZE_MESSAGE);
  });

  it('numLayers: 1e9 is counted, not built layer by layer', () => {
    const e = refusedFast(() => new GRU({ inputSize: 4, hiddenSize: 8, numLayers: 1e9 }));
    expect(e).toBeInstanceOf(RangeArgumentError);
    expect(e.message).toMatch(/^GRU: the parameters of inputSize 4, hiddenSize 8, numLayers 1000000000 would need /);
    expect(e.message).toMatch(SIZE_MESSAGE);
    expect(() => new RNN(4, 8, 1e9)).toThrow(/^RNN: the parameters of .*numLayers 1000000000/);
    expect(() => new LSTM(2, 3, 1e9, { bidirectional: true })).toThrow(/numLayers 1000000000, bidirectional would need/);
  });

  const huge: Array<[string, () => unknown]> = [
    ['LSTM hiddenSize 1e9', () => new LSTM(1, 1e9)],
    ['GRU inputSize 2^53', () => new GRU(2 ** 53, 1)],
    ['RNN hiddenSize 2^53', () => new RNN({ inputSize: 1, hiddenSize: 2 ** 53 })],
    ['RNN numLayers 2^53', () => new RNN(1, 1, 2 ** 53)],
    ['LSTM hiddenSize 1e300', () => new LSTM(1, 1e300)],
    ['LSTM projSize 1e9', () => new LSTM(4, 2e9, { projSize: 1e9 })],
    ['LSTMCell 1e9', () => new LSTMCell(1e9, 1)],
    ['GRUCell 2^53', () => new GRUCell(1, 2 ** 53)],
    ['RNNCell 1e5 x 1e5', () => new RNNCell(1e5, 1e5)],
  ];

  it.each(huge)('%s is a RangeArgumentError with the size it would need', (_, f) => {
    const e = refusedFast(f);
    expect(e).toBeInstanceOf(RangeArgumentError);
    expect(e.message).toMatch(/^(LSTM|GRU|RNN)(Cell)?: the parameters of inputSize /);
    expect(e.message).toMatch(SIZE_MESSAGE);
  });

  it('cells name no numLayers; projections are named', () => {
    expect(() => new GRUCell(1e9, 1)).toThrow(/^GRUCell: the parameters of inputSize 1000000000, hiddenSize 1 would need 3000000009 float32 values/);
    expect(() => new LSTM(4, 2e9, { projSize: 1e9 })).toThrow(/hiddenSize 2000000000, numLayers 1, projSize 1000000000 would need/);
  });

  it('sizes that fit still build, and the count is the parameters PyTorch has', () => {
    const lstm = new LSTM(3, 5, 4, { bidirectional: true, projSize: 2, seed: 0 });
    const count = lstm.parameters().reduce((n, p) => n + p.size, 0);
    // Per direction: weight_ih [20, 3] (layer 0) or [20, 4], weight_hh [20, 2], two biases of 20, weight_hr [2, 5].
    expect(count).toBe(2 * (150 + 3 * 170));
    expect(new GRU(8, 16, 50, { seed: 0 }).parameters()).toHaveLength(200);
  });

  it('a module just past the limit is refused, whatever part of it is large', () => {
    // An RNN has H * (I + H) + 2H parameters per layer: with I = 1, H = 46341 it is just past 2^31 - 1.
    expect(46341 * (1 + 46341) + 2 * 46341).toBeGreaterThan(MAX_ELEMENTS);
    expect(refusedFast(() => new RNN(1, 46341))).toBeInstanceOf(RangeArgumentError);
    // 1,100 layers of 2,002,000 parameters: no layer is large, all of them are.
    expect(refusedFast(() => new RNN(1, 1000, 1100))).toBeInstanceOf(RangeArgumentError);
  });
});

describe('stream batches no machine can hold', () => {
  it('stream({ batch: 1e9 }) is refused before reserving anything', () => {
    const lstm = new LSTM(4, 8, 2, { seed: 0 });
    const e = refusedFast(() => lstm.stream({ batch: 1e9 }));
    expect(e).toBeInstanceOf(RangeArgumentError);
    expect(e.message).toMatch(/^LSTM\.stream: batch 1000000000 would need /);
    expect(e.message).toMatch(SIZE_MESSAGE);
    expect(refusedFast(() => new GRU(4, 8).stream({ batch: 2 ** 53 }))).toBeInstanceOf(RangeArgumentError);
    expect(lstm.stream({ batch: 3 }).batch).toBe(3);
  });
});

describe('padding lengths no machine can hold', () => {
  // Three sequences of one feature: a totalLength of 1e9 pads to 3e9 values, past MAX_ELEMENTS.
  const packed = () => packSequence([tensor([[1], [2], [3]]), tensor([[4], [5]]), tensor([[6]])]);

  it('padPackedSequence with totalLength: 1e9 is refused with the padded shape it would make', () => {
    const e = refusedFast(() => padPackedSequence(packed(), { totalLength: 1e9 }));
    expect(e).toBeInstanceOf(RangeArgumentError);
    expect(e.message).toMatch(/^padPackedSequence: totalLength 1000000000 \(padded shape \[1000000000,3,1\]\) would need 3000000000 float32 values \(12000000000 bytes/);
    expect(() => padPackedSequence(packed(), { totalLength: 2e9, batchFirst: true })).toThrow(/padded shape \[3,2000000000,1\]/);
    expect(refusedFast(() => padPackedSequence(packed(), { totalLength: 2 ** 53 }))).toBeInstanceOf(RangeArgumentError);
    expect(padPackedSequence(packed(), { totalLength: 5 })[0].shape).toEqual([5, 3, 1]);
    // Two sequences: 2e9 values, under the engines' typed-array limit but past what recur holds (4 GiB).
    const two = packSequence([tensor([[1], [2]]), tensor([[3]])]);
    expect(refusedFast(() => padPackedSequence(two, { totalLength: 1e9 }))).toBeInstanceOf(RangeArgumentError);
  });

  it('an empty feature dimension pads to any length, but not past 2^53', () => {
    const empty = packSequence([randn([3, 0]), randn([1, 0])]);
    expect(padPackedSequence(empty, { totalLength: 1e9 })[0].shape).toEqual([1e9, 2, 0]);
    expect(refusedFast(() => padPackedSequence(empty, { totalLength: 2 ** 60 }))).toBeInstanceOf(ShapeError);
  });

  it('padSequence refuses a batch whose padding would be too large', () => {
    // 30,000 sequences, one of them 100,000 steps long: the padding needs 3e9 values.
    const short = randn([1, 1]);
    const sequences = [randn([100_000, 1]), ...new Array(29_999).fill(short)];
    const e = refusedFast(() => padSequence(sequences));
    expect(e).toBeInstanceOf(RangeArgumentError);
    expect(e.message).toMatch(/^padSequence: 30000 sequences padded to the longest, 100000 \(shape \[100000,30000,1\]\) would need 3000000000/);
  });
});
