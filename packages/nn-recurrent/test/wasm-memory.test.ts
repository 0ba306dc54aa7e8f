// Modules on the wasm backend keep its memory flat: weights are uploaded once, rebuilt only after
// loadStateDict, freed by dispose(), and 10,000 forward calls grow nothing.

import { randn, setBackend } from '@recur/core-tensor';
import { wasmBackend } from '@recur/kernels-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { GRU, LSTM } from '../src/index.js';
import './backends.js';

beforeAll(async () => {
  await setBackend('wasm');
});

describe('wasm memory under modules', () => {
  it('10,000 forward calls of a mid-size LSTM keep memory flat', () => {
    const lstm = new LSTM(32, 64, 2, { seed: 1 }).eval();
    const x = randn([10, 4, 32], { seed: 0 });
    for (let i = 0; i < 50; i++) lstm.forward(x);
    const before = wasmBackend.memoryStats();
    for (let i = 0; i < 10_000; i++) lstm.forward(x);
    expect(wasmBackend.memoryStats()).toEqual(before);
    lstm.dispose();
  });

  it('uploads weights once, replaces them on loadStateDict and frees them on dispose', () => {
    const base = wasmBackend.memoryStats().allocated;
    const gru = new GRU(16, 32, { seed: 2 });
    const x = randn([3, 2, 16], { seed: 0 });
    gru.forward(x);
    const withWeights = wasmBackend.memoryStats().allocated;
    expect(withWeights).toBeGreaterThan(base);
    gru.forward(x);
    expect(wasmBackend.memoryStats().allocated).toBe(withWeights);
    gru.loadStateDict(new GRU(16, 32, { seed: 3 }).stateDict());
    gru.forward(x);
    expect(wasmBackend.memoryStats().allocated).toBe(withWeights);
    gru.dispose();
    expect(wasmBackend.memoryStats().allocated).toBe(base);
  });
});
