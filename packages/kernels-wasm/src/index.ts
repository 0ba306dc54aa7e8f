// Public entry point of @recur/kernels-wasm.

export { createWasmBackend, threadsUnavailableReason, wasmBackend } from './backend.js';
export type { WasmBackend, WasmBackendOptions, WasmThreadInfo } from './backend.js';
export type { MemoryStats } from './heap.js';
export type { KernelVariant } from './module.js';
