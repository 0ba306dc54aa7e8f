// Modules on the wasm backend keep its memory flat: weights are uploaded once, rebuilt only after
// loadStateDict, freed by dispose(), and 10,000 inference calls (under noGrad, as torch.no_grad())
// grow nothing; training steps reuse their reserve space.

import { noGrad, randn, setBackend } from '@recur/core-tensor';
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
    noGrad(() => {
      for (let i = 0; i < 50; i++) lstm.forward(x);
      const before = wasmBackend.memoryStats();
      for (let i = 0; i < 10_000; i++) lstm.forward(x);
      expect(wasmBackend.memoryStats()).toEqual(before);
    });
    lstm.dispose();
  });

  it('200 training steps reuse their training workspaces: memory stays flat', () => {
    const lstm = new LSTM(16, 32, 2, { seed: 1, bidirectional: true });
    const x = randn([12, 3, 16], { seed: 0 });
    const step = () => {
      const [out] = lstm.forward(x);
      out.sum().backward();
      lstm.zeroGrad();
    };
    for (let i = 0; i < 5; i++) step();
    const before = wasmBackend.memoryStats();
    for (let i = 0; i < 200; i++) step();
    expect(wasmBackend.memoryStats()).toEqual(before);
    const withPool = wasmBackend.memoryStats().allocated;
    lstm.dispose();
    expect(wasmBackend.memoryStats().allocated).toBeLessThan(withPool);
  });

  it('uploads weights once, replaces them on loadStateDict and frees them on dispose', () => {
    const base = wasmBackend.memoryStats().allocated;
    const gru = new GRU(16, 32, { seed: 2 });
    gru.requiresGrad_(false); // inference only: nothing recorded
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
