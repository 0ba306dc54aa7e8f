// Calls that work but probably not as meant get PyTorch's warning, and mistakes that have an
// obvious cause name it: the backend ready() would pick, dropout on one layer, a batch-first input.

import { registerBackend, setBackend, unregisterBackend, zeros, randn } from '@recur/core-tensor';
import { describe, expect, it, vi } from 'vitest';
import { GRU, LSTM } from '../src/index.js';

describe('hints', () => {
  it("warns once, as PyTorch does, about dropout on a one-layer module", () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    new GRU(3, 4, { dropout: 0.3 });
    new GRU(3, 4, { dropout: 0.3 });
    new GRU(3, 4, 2, { dropout: 0.3 });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).toContain('GRU: dropout option adds dropout after all but last recurrent layer, so non-zero dropout expects numLayers greater than 1, but got dropout=0.3 and numLayers=1');
    warn.mockRestore();
  });

  it('names batchFirst when the state fits only the other layout', async () => {
    await setBackend('js');
    const lstm = new LSTM(5, 7);
    const x = randn([4, 9, 5]); // meant as [B=4, T=9, I=5]
    expect(() => lstm.forward(x, [zeros([1, 4, 7]), zeros([1, 4, 7])])).toThrow(
      /expected h0 of shape \[1,9,7\], got \[1,4,7\] \(the state's batch 4 is the input's first dimension: a \[B, T, I\] input needs batchFirst: true\)/,
    );
  });

  it('warns once when a forward runs on js while a faster registered backend waits for ready()', async () => {
    const { jsBackend } = await import('@recur/kernels-js');
    const fake = { ...jsBackend, name: 'fast-but-async', priority: 50, initSync: undefined, init: async () => {} };
    const state = (globalThis as Record<symbol, { current: unknown; chosen: boolean }>)[Symbol.for('@recur/core-tensor/registry')]!;
    state.current = null;
    state.chosen = false;
    registerBackend(fake);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    new GRU(2, 3).forward(zeros([1, 1, 2]));
    new GRU(2, 3).forward(zeros([1, 1, 2]));
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).toMatch(/running on the 'js' backend .* 'fast-but-async' is registered .* `await ready\(\)`/);
    warn.mockRestore();
    unregisterBackend('fast-but-async');
    await setBackend('js');
  });
});
