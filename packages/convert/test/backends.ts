// The backends every conformance test runs on: each registered backend gets the whole suite, the wasm
// kernels in both builds (relaxed SIMD, which the test runner enables, and plain 128-bit SIMD).

import { type Backend, registerBackend } from '@recur/core-tensor';
import { jsBackend } from '@recur/kernels-js';
import { createWasmBackend, wasmBackend } from '@recur/kernels-wasm';

export const BACKENDS: Backend[] = [jsBackend, wasmBackend, createWasmBackend({ name: 'wasm-simd128', relaxedSimd: false, priority: 5 })];
for (const b of BACKENDS) registerBackend(b);
