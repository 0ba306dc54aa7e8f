// In Node (and workers) the wasm kernels compile synchronously, so a program that registers the wasm
// backend and forgets `await ready()` still runs on wasm, with no warning.

import { activeBackend, getBackend, registerBackend } from '@recur/core-tensor';
import { jsBackend } from '@recur/kernels-js';
import { describe, expect, it, vi } from 'vitest';
import { createWasmBackend } from '../src/index.js';

describe('wasm without ready()', () => {
  it('is activated synchronously on first use in Node', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const wasm = createWasmBackend({ name: 'wasm-sync' });
    registerBackend(jsBackend);
    registerBackend(wasm);
    expect(wasm.initSync).toBeTypeOf('function');
    expect(activeBackend()).toBe(wasm);
    expect(getBackend()).toBe('wasm-sync');
    expect(wasm.kernelVariant()).not.toBeNull();
    expect(warn).not.toHaveBeenCalled();
    warn.mockRestore();
  });
});
