// Public entry point of @recur/kernels-wasm.

export { createWasmBackend, wasmBackend } from './backend.js';
export { threadsUnavailableReason } from './env.js';
export type { WasmBackend, WasmBackendOptions, WasmThreadInfo } from './backend.js';
export type { MemoryStats } from './heap.js';
export type { KernelVariant } from './module.js';
