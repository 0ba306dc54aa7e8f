// Loads the kernels: decodes an inlined base64 binary, probes WebAssembly SIMD (and relaxed SIMD, whose
// fused multiply-add makes the GEMM about a quarter faster) and compiles with the async
// WebAssembly.compile, so no .wasm file path or fetch is involved anywhere.

import {
  KERNELS_RELAXED_SIMD_BASE64,
  KERNELS_RELAXED_SIMD_THREADS_BASE64,
  KERNELS_SIMD_BASE64,
  KERNELS_SIMD_THREADS_BASE64,
} from './kernels.generated.js';

export { createMemory } from './env.js';

/**
 * Which build of the kernels runs: 128-bit SIMD, or SIMD with relaxed fused multiply-add.
 * @example
 * const variant: KernelVariant | null = wasmBackend.kernelVariant();
 */
export type KernelVariant = 'simd128' | 'relaxed-simd';

/** The kernels' exports; pointers are byte offsets into the shared memory. */
export interface KernelExports {
  gemm(m: number, n: number, k: number, a: number, lda: number, b: number, c: number, ldc: number, accumulate: boolean): void;
  packB(src: number, k: number, n: number, rowStride: number, colStride: number, dst: number): void;
  packedSize(k: number, n: number): number;
  /** As packB, into the 16-column panels of the one-row product (assembly/gemm.ts, gemv16). */
  packB16(src: number, k: number, n: number, rowStride: number, colStride: number, dst: number): void;
  packedSize16(k: number, n: number): number;
  /**
   * This thread's share of the layer call described at `desc` (src/runtime.ts fills it; the slots are in
   * assembly/layers.ts). Returns 0 if the call was aborted because another thread failed.
   */
  runLayer(desc: number, tid: number): number;
  /** Fills the work queues of the call described at `desc` before its threads start (assembly/layers.ts). */
  queuesInit(desc: number): void;
  /** `rounds` barriers among `nt` threads (the pool's start-up measurement); the rounds completed. */
  spinBarriers(ctl: number, nt: number, rounds: number): number;
  /** This thread's most spins at a barrier before it sleeps (at least 64). */
  setSpins(spins: number): void;
  /** Gradients of one layer direction from the reserve; `desc` holds the buffers' offsets (assembly/backward.ts). */
  layerBackward(mode: number, T: number, B: number, rows: number, I: number, H: number, P: number, reverse: boolean, desc: number): void;
}

// The smallest module using a v128 instruction (as wasm-feature-detect probes SIMD).
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);

// i8x16.relaxed_swizzle of two splats (as wasm-feature-detect probes relaxed SIMD).
const RELAXED_SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 15, 1, 13, 0, 65, 1, 253, 15, 65, 2, 253, 15,
  253, 128, 2, 11,
]);

/** True where the engine accepts relaxed SIMD (Chrome 114+, Firefox 120+, Node 22+). */
export function relaxedSimdAvailable(): boolean {
  try {
    return WebAssembly.validate(RELAXED_SIMD_PROBE);
  } catch {
    return false;
  }
}

/** Why the kernels cannot run here, or null if WebAssembly with SIMD is available. */
export function simdUnavailableReason(): string | null {
  if (typeof WebAssembly !== 'object' || typeof WebAssembly.compile !== 'function') {
    return 'WebAssembly is not available in this environment';
  }
  try {
    if (!WebAssembly.validate(SIMD_PROBE)) return 'WebAssembly SIMD (128-bit) is not supported by this engine';
  } catch (error) {
    return `WebAssembly SIMD probe failed: ${(error as Error).message}`;
  }
  return null;
}

function decodeBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * True where a module of this size may be compiled synchronously: Node and workers (a browser's main
 * thread refuses synchronous compilation of modules over 8 KB).
 */
export function canCompileSync(): boolean {
  const g = globalThis as { process?: { versions?: { node?: string } }; document?: unknown; WorkerGlobalScope?: unknown };
  return Boolean(g.process?.versions?.node) || (g.WorkerGlobalScope !== undefined && g.document === undefined);
}

/** The binary of one build: `shared` is the build on a shared memory with atomics, for threads. */
function binary(variant: KernelVariant, shared: boolean): Uint8Array<ArrayBuffer> {
  const base64 =
    variant === 'relaxed-simd'
      ? shared
        ? KERNELS_RELAXED_SIMD_THREADS_BASE64
        : KERNELS_RELAXED_SIMD_BASE64
      : shared
        ? KERNELS_SIMD_THREADS_BASE64
        : KERNELS_SIMD_BASE64;
  return decodeBase64(base64) as Uint8Array<ArrayBuffer>;
}

/** One build compiled and instantiated against `memory`; the module is kept to start worker threads. */
export interface Kernels {
  module: WebAssembly.Module;
  exports: KernelExports;
}

/** Compiles and instantiates one build of the kernels against `memory`, synchronously. */
export function instantiateKernelsSync(memory: WebAssembly.Memory, variant: KernelVariant, shared = false): Kernels {
  const module = new WebAssembly.Module(binary(variant, shared));
  return { module, exports: new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as KernelExports };
}

/** Compiles one build of the kernels (for a worker to instantiate). */
export function compileKernels(variant: KernelVariant, shared: boolean): Promise<WebAssembly.Module> {
  return WebAssembly.compile(binary(variant, shared));
}

/** Compiles and instantiates one build of the kernels against `memory`. */
export async function instantiateKernels(memory: WebAssembly.Memory, variant: KernelVariant, shared = false): Promise<Kernels> {
  const module = await WebAssembly.compile(binary(variant, shared));
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  return { module, exports: instance.exports as unknown as KernelExports };
}

