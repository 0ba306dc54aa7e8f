// `wasmBackend`: the Backend interface on WebAssembly SIMD kernels. `createWasmBackend` makes an
// independent instance (its own memory); `wasmBackend` is the default one, which picks the relaxed-SIMD
// build where the engine has it and the plain 128-bit SIMD build otherwise.

import { BACKEND_INTERFACE_VERSION, type Backend, BackendError, type RecurrentWeights } from '@recur/core-tensor';
import type { MemoryStats } from './heap.js';
import {
  type KernelVariant,
  canCompileSync,
  instantiateKernels,
  instantiateKernelsSync,
  relaxedSimdAvailable,
  simdUnavailableReason,
} from './module.js';
import { WasmRuntime } from './runtime.js';

/** The wasm backend, with a view of its memory and of the kernel build it runs. */
export interface WasmBackend extends Backend {
  /**
   * The wasm memory in bytes: its size, live allocations, free blocks and the free top (all zeros
   * before init). `allocated` returns to where it was once what was prepared is disposed; `bytes`
   * never shrinks, short of `reset()`.
   */
  memoryStats(): MemoryStats;
  /**
   * Drops the whole wasm heap, the one way to give its memory back (a WebAssembly memory cannot shrink),
   * and resolves once a new, empty one is in place. Weights and workspaces made before report
   * `disposed`, and a kernel given them throws a `BackendError`: modules that ran on this backend
   * must be created anew (or `loadStateDict` into them) afterwards. Calls made while the promise is
   * pending still run on the old heap. A no-op before init.
   * @example
   * lstm.dispose();
   * await wasmBackend.reset(); // memoryStats().bytes back to 128 KiB
   */
  reset(): Promise<void>;
  /** The kernel build in use after init: 'relaxed-simd' (fused multiply-add) or 'simd128'; null before. */
  kernelVariant(): KernelVariant | null;
}

export interface WasmBackendOptions {
  /** Registry name (default 'wasm'). */
  name?: string;
  /** Registry priority (default 10: above js). */
  priority?: number;
  /** 'auto' (default) uses relaxed SIMD where available; false always runs the plain SIMD build. */
  relaxedSimd?: 'auto' | false;
}

/**
 * A wasm backend instance with its own memory.
 * @example
 * const simdOnly = createWasmBackend({ name: 'wasm-simd128', relaxedSimd: false });
 */
export function createWasmBackend(options: WasmBackendOptions = {}): WasmBackend {
  const name = options.name ?? 'wasm';
  let runtime: WasmRuntime | null = null;
  let pending: Promise<void> | null = null;
  let failure: string | null = null;
  let variant: KernelVariant | null = null;

  const rt = (): WasmRuntime => {
    if (!runtime) throw new BackendError(`${name} backend used before init(): await ready() or setBackend('${name}') first`);
    return runtime;
  };

  const pickVariant = (): KernelVariant => {
    const reason = simdUnavailableReason();
    if (reason) throw new BackendError(`${name}: ${reason}`);
    return options.relaxedSimd !== false && relaxedSimdAvailable() ? 'relaxed-simd' : 'simd128';
  };

  const init = async (): Promise<void> => {
    if (runtime) return;
    pending ??= (async () => {
      const chosen = pickVariant();
      const memory = new WebAssembly.Memory({ initial: 2, maximum: 65536 });
      const kernels = await instantiateKernels(memory, chosen);
      runtime = new WasmRuntime(kernels, memory, name);
      variant = chosen;
    })().catch((error: unknown) => {
      failure = error instanceof Error ? error.message : String(error);
      pending = null;
      throw error;
    });
    return pending;
  };

  /** Where compiling synchronously is allowed (Node, workers), a first forward needs no `await ready()`. */
  const initSync = (): void => {
    if (runtime) return;
    try {
      const chosen = pickVariant();
      const memory = new WebAssembly.Memory({ initial: 2, maximum: 65536 });
      runtime = new WasmRuntime(instantiateKernelsSync(memory, chosen), memory, name);
      variant = chosen;
    } catch (error) {
      failure = error instanceof Error ? error.message : String(error);
      throw error;
    }
  };

  const reset = async (): Promise<void> => {
    await pending?.catch(() => undefined);
    if (!runtime || !variant) return;
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 65536 });
    const kernels = await instantiateKernels(memory, variant);
    runtime?.drop();
    runtime = new WasmRuntime(kernels, memory, name);
  };

  return {
    name,
    priority: options.priority ?? 10,
    ...(canCompileSync() ? { initSync } : {}),
    interfaceVersion: BACKEND_INTERFACE_VERSION,
    capabilities: { backward: true },
    init,
    unavailableReason: () => failure ?? (runtime ? null : simdUnavailableReason()),
    memoryStats: () => (runtime ? runtime.heap.stats() : { bytes: 0, allocated: 0, blocks: 0, free: 0, freeBlocks: 0, top: 0 }),
    reset,
    kernelVariant: () => variant,
    matmul: (a, b, m, k, n, o) => rt().matmul(a, b, m, k, n, o),
    prepareWeights: (w: RecurrentWeights) => rt().prepare(w),
    createWorkspace: (options) => rt().createWorkspace(options),
    layer: (args, workspace) => rt().layer(args, workspace),
    layerBackward: (args, workspace) => rt().layerBackward(args, workspace),
  };
}

/**
 * WebAssembly SIMD kernels (priority 10: `ready()` picks it over `js` wherever SIMD is available), using
 * relaxed SIMD's fused multiply-add where the engine has it.
 * @example
 * import { registerBackend, ready } from '@recur/core-tensor';
 * import { wasmBackend } from '@recur/kernels-wasm';
 * registerBackend(wasmBackend);
 * await ready(); // 'wasm', or 'js' with the reason in backendStatus()
 */
export const wasmBackend: WasmBackend = createWasmBackend();
