// The backends every conformance test runs on: each registered backend gets the whole suite.

import { type Backend, registerBackend } from '@recur/core-tensor';
import { jsBackend } from '@recur/kernels-js';
import { wasmBackend } from '@recur/kernels-wasm';

export const BACKENDS: Backend[] = [jsBackend, wasmBackend];
for (const b of BACKENDS) registerBackend(b);
