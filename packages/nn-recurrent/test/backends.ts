// The backends every conformance test runs on: each registered backend gets the whole suite, the wasm
// kernels in both builds (relaxed SIMD, which the test runner enables, and plain 128-bit SIMD) and on
// one, two and three threads. The threaded ones split every call (`split: 'always'`), whatever the cost
// model would say of the fixtures' small sizes, so every call takes the threaded path; three threads
// catch uneven splits of the hidden units. threads.test.ts checks that they give the same bits as one.

import { type Backend, registerBackend } from '@recur/core-tensor';
import { jsBackend } from '@recur/kernels-js';
import { createWasmBackend, wasmBackend } from '@recur/kernels-wasm';

export const BACKENDS: Backend[] = [
  jsBackend,
  wasmBackend,
  createWasmBackend({ name: 'wasm-simd128', relaxedSimd: false, threads: 1, priority: 5 }),
  createWasmBackend({ name: 'wasm-2t', threads: 2, split: 'always', priority: 4 }),
  createWasmBackend({ name: 'wasm-simd128-3t', relaxedSimd: false, threads: 3, split: 'always', priority: 3 }),
];
for (const b of BACKENDS) registerBackend(b);
