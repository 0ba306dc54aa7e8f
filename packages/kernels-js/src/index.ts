// Public entry point of @recur/kernels-js.

export { jsBackend } from './backend.js';
