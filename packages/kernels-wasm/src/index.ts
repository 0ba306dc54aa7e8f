// Public entry point of @recur/kernels-wasm.

export { wasmBackend } from './backend.js';
export type { WasmBackend } from './backend.js';
export type { MemoryStats } from './heap.js';
