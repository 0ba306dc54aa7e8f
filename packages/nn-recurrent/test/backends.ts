// The backends every conformance test runs on: each registered backend gets the whole suite.

import { type Backend, registerBackend } from '@recur/core-tensor';
import { jsBackend } from '@recur/kernels-js';

export const BACKENDS: Backend[] = [jsBackend];
for (const b of BACKENDS) registerBackend(b);
