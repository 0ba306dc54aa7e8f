// Dropping the wasm heap under modules (issue 17, class 9): after the backend's reset() a module that
// ran on it gets a BackendError naming the reset, never a read of the wrong memory; a loadStateDict
// (or a new module) prepares its weights on the new heap, with the same results. A new backend
// instance registered in place of the old one is followed by modules on their next call.

import { noGrad, randn, registerBackend, setBackend } from '@recur/core-tensor';
import { createWasmBackend } from '@recur/kernels-wasm';
import { describe, expect, it } from 'vitest';
import { GRU, LSTM } from '../src/index.js';
import './backends.js';

describe('modules across a wasm reset', () => {
  it('a module that ran before prepares its weights again by itself, with the same numbers', async () => {
    const wasm = createWasmBackend({ name: 'wasm-reset', priority: 0 });
    registerBackend(wasm);
    await setBackend('wasm-reset');
    const lstm = new LSTM(8, 32, 2, { seed: 1 });
    const x = randn([5, 3, 8], { seed: 2 });
    const [before] = noGrad(() => lstm.forward(x));
    expect(wasm.memoryStats().allocated).toBeGreaterThan(0);
    await wasm.reset();
    expect(wasm.memoryStats()).toMatchObject({ bytes: 131072, allocated: 0 });
    const [after] = noGrad(() => lstm.forward(x));
    expect(() => lstm.stream().step(randn([1, 8], { seed: 3 }))).not.toThrow();
    expect(Array.from(after.values)).toEqual(Array.from(before.values));
    const fresh = new GRU(8, 16, { seed: 3 });
    noGrad(() => fresh.forward(x));
    lstm.dispose();
    fresh.dispose();
    expect(wasm.memoryStats().allocated).toBe(0);
  });

  it('a new instance registered in place of the old one is followed by modules at their next call', async () => {
    const first = createWasmBackend({ name: 'wasm-swap', priority: 0 });
    registerBackend(first);
    await setBackend('wasm-swap');
    const gru = new GRU(4, 8, { seed: 4 });
    const x = randn([3, 2, 4], { seed: 5 });
    const [before] = noGrad(() => gru.forward(x));
    const held = first.memoryStats().allocated;
    expect(held).toBeGreaterThan(0);
    const second = createWasmBackend({ name: 'wasm-swap', priority: 0 });
    registerBackend(second, { override: true });
    await setBackend('wasm-swap');
    const [after] = noGrad(() => gru.forward(x));
    expect(Array.from(after.values)).toEqual(Array.from(before.values));
    // The module let go of what it held on the old instance.
    expect(first.memoryStats().allocated).toBe(0);
    expect(second.memoryStats().allocated).toBeGreaterThan(0);
    gru.dispose();
    expect(second.memoryStats().allocated).toBe(0);
  });
});
