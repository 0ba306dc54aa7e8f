// Memory and sizes around training: a recorded forward never followed by backward gives its wasm
// reserve back on dispose(); modules re-prepare by themselves after a wasm reset(); heads and
// operations refuse sizes no machine can hold with a recur error.

import { RangeArgumentError, setBackend, tensor, zeros } from '@recur/core-tensor';
import { wasmBackend } from '@recur/kernels-wasm';
import { describe, expect, it } from 'vitest';
import { Embedding, Linear, RNN } from '../src/index.js';
import './backends.js';

describe('training memory', () => {
  it('dispose() frees what a recorded forward that never saw backward holds', async () => {
    await setBackend('wasm');
    const start = wasmBackend.memoryStats().allocated;
    const rnn = new RNN(8, 256);
    const [out] = rnn.forward(zeros([100, 4, 8])); // recorded: parameters require grad
    expect(out.requiresGrad).toBe(true);
    expect(wasmBackend.memoryStats().allocated).toBeGreaterThan(start);
    rnn.dispose();
    expect(wasmBackend.memoryStats().allocated).toBe(start);
    expect(() => out.sum().backward()).toThrow(/(weights|workspace) were disposed|workspace was disposed/);
  });

  it('modules prepare their weights again after a wasm reset()', async () => {
    await setBackend('wasm');
    const rnn = new RNN(3, 5, { seed: 1 }).requiresGrad_(false);
    const x = zeros([2, 1, 3]);
    const before = Array.from(rnn.forward(x)[0].values);
    await wasmBackend.reset();
    expect(Array.from(rnn.forward(x)[0].values)).toEqual(before);
  });
});

describe('sizes of heads and operations', () => {
  it.each([
    ['Linear(1e5, 1e5)', () => new Linear(100_000, 100_000), /Linear: a weight of 100000 x 100000 would need 10000000000 float32 values/],
    ['Embedding(1e9, 8)', () => new Embedding(1_000_000_000, 8), /Embedding: a table of 1000000000 x 8 would need 8000000000 float32 values/],
    ['a broadcast past the limit', () => zeros([100_000, 1]).add(zeros([1, 100_000])), /add: a result of shape \[100000,100000\] would need/],
  ])('%s is a RangeArgumentError, before allocating', (_label, make, message) => {
    const buffersBefore = process.memoryUsage().arrayBuffers;
    expect(make).toThrow(RangeArgumentError);
    expect(make).toThrow(message);
    expect(process.memoryUsage().arrayBuffers - buffersBefore).toBeLessThan(2 ** 24);
  });

  it('small ones still work', () => {
    expect(new Linear(2, 3).forward(tensor([[1, 2]])).shape).toEqual([1, 3]);
  });
});

describe('streams', () => {
  it('record nothing, in step() and in push()', async () => {
    await setBackend('js');
    const rnn = new RNN(2, 3);
    const stream = rnn.stream();
    expect(stream.push(zeros([4, 1, 2])).requiresGrad).toBe(false);
    expect(stream.step(zeros([1, 2])).requiresGrad).toBe(false);
  });
});

describe('recorded forwards that never see backward', () => {
  it('leave wasm memory flat: a training call keeps its activations in JavaScript memory, which the GC frees', async () => {
    await setBackend('wasm');
    const rnn = new RNN(16, 128);
    const x = zeros([50, 8, 16]);
    rnn.forward(x);
    const before = wasmBackend.memoryStats().bytes;
    for (let i = 0; i < 100; i++) rnn.forward(x); // validation without noGrad: recorded, never backward
    expect(wasmBackend.memoryStats().bytes).toBe(before);
    const [out] = rnn.forward(x);
    out.sum().backward(); // and a later graph still trains
    expect(rnn.parameters().every((p) => p.grad !== null)).toBe(true);
    rnn.dispose();
  });
});
