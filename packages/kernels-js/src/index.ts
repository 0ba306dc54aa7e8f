// Public entry point of @recur/kernels-js.

export { jsBackend } from './backend.js';
export { gemm } from './gemm.js';
export { relu, sigmoid } from './activations.js';
