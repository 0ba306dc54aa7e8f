// Public entry point of @recur/kernels-js.

export { jsBackend } from './backend.js';
export { gemmPacked, packPanels } from './gemm.js';
export { relu, sigmoid } from './activations.js';
