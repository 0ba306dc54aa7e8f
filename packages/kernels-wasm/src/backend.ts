// `wasmBackend`: the Backend interface on WebAssembly SIMD kernels. `createWasmBackend` makes an
// independent instance (its own memory); `wasmBackend` is the default one, which picks the relaxed-SIMD
// build where the engine has it and the plain 128-bit SIMD build otherwise.

import {
  ArgumentError,
  BACKEND_INTERFACE_VERSION,
  type Backend,
  BackendError,
  RangeArgumentError,
  type RecurrentWeights,
  describeValue,
} from '@recur/core-tensor';
import type { MemoryStats } from './heap.js';
import {
  type KernelVariant,
  type Kernels,
  canCompileSync,
  compileKernels,
  instantiateKernels,
  instantiateKernelsSync,
  relaxedSimdAvailable,
  simdUnavailableReason,
} from './module.js';
import { coreCount, createMemory, isPageMainThread, sharedMemoryUnavailableReason, threadsUnavailableReason } from './env.js';
import { WorkerProxy } from './proxy.js';
import { startThreads } from './pool.js';
import { WasmRuntime } from './runtime.js';

/**
 * How the threads of a wasm backend stand: what runs, why not more, and the cost model's inputs.
 * @example
 * const { active, reason } = wasmBackend.threadInfo();
 * if (active === 1 && reason) console.warn(reason); // e.g. the isolation headers to send
 */
export interface WasmThreadInfo {
  /** Threads asked for (`threads` option, or the default for this machine). */
  requested: number;
  /** Threads a large call runs on now: `requested` once the workers are up, else 1. */
  active: number;
  /** Why threads are off, in words a user can act on (null while they run, or when 1 was asked for). */
  reason: string | null;
  /** Threads the last layer call ran on (small calls stay on the calling thread). */
  lastCall: number;
  /** Layer calls run on several threads, and on the calling thread alone. */
  threadedCalls: number;
  singleCalls: number;
  /**
   * Tasks (8 hidden units of a step, or rows of the input projection) one thread took over from
   * another's share because it was done with its own first: how much a slower core was helped.
   */
  tasksMoved: number;
  /** Start-up measurements of the cost model: one barrier, one empty call, and one thread's GEMM rate. */
  barrierNs: number;
  callNs: number;
  gflops: number;
  /**
   * The worker recur manages for `forwardAsync` (the `proxy` option): its threads, why not more, and
   * the threads its last call ran on; null without one (`reason` then says why, if it failed).
   */
  worker: { active: number; reason: string | null; lastCall: number; weightsSent: number } | null;
}

/**
 * The wasm backend, with a view of its memory and of the kernel build it runs.
 * @example
 * wasmBackend.kernelVariant(); // 'relaxed-simd' or 'simd128'
 * wasmBackend.memoryStats().bytes;
 * wasmBackend.threadInfo().active;
 */
export interface WasmBackend extends Backend {
  /**
   * The wasm memory in bytes: its size, live allocations, free blocks and the free top (all zeros
   * before init). `allocated` returns to where it was once what was prepared is disposed; `bytes`
   * never shrinks, short of `reset()`.
   */
  memoryStats(): MemoryStats;
  /**
   * Drops the whole wasm heap, the one way to give its memory back (a WebAssembly memory cannot shrink),
   * and resolves once a new, empty one is in place (with its worker threads, if they ran). Weights and
   * workspaces made before report `disposed`, and a kernel given them throws a `BackendError`: modules
   * that ran on this backend must be created anew (or `loadStateDict` into them) afterwards. Calls made
   * while the promise is pending still run on the old heap. A no-op before init.
   * @example
   * lstm.dispose();
   * await wasmBackend.reset(); // memoryStats().bytes back to 128 KiB
   */
  reset(): Promise<void>;
  /** The kernel build in use after init: 'relaxed-simd' (fused multiply-add) or 'simd128'; null before. */
  kernelVariant(): KernelVariant | null;
  /**
   * The threads: how many run, why not more, and the measurements that decide per call.
   * @example
   * const wasm = createWasmBackend({ threads: 2 });
   * registerBackend(wasm);
   * await ready();
   * wasm.threadInfo(); // { requested: 2, active: 2, reason: null, lastCall: 2, ... }
   */
  threadInfo(): WasmThreadInfo;
  /**
   * Ends the worker threads (a Node process also exits without it: the workers never keep it alive).
   * The backend keeps working, on the calling thread alone. Calls are synchronous, so none can be
   * running on this thread while it is disposed.
   */
  dispose(): void;
}

/**
 * Options of `createWasmBackend`: registry name and priority, the kernel build, threads and where
 * `forwardAsync` runs.
 * @example
 * const wasm = createWasmBackend({ name: 'wasm', threads: 2, proxy: 'auto' });
 */
export interface WasmBackendOptions {
  /** Registry name (default 'wasm'). */
  name?: string;
  /** Registry priority (default 10: above js). */
  priority?: number;
  /** 'auto' (default) uses relaxed SIMD where available; false always runs the plain SIMD build. */
  relaxedSimd?: 'auto' | false;
  /**
   * Threads the kernels may run on, the calling thread included: a positive integer. Default: the
   * machine's cores, at most 4. 1 is the single-threaded backend. Results are bit-identical for every
   * count; where threads cannot run, the backend runs on one and `backendStatus()` says why. More
   * threads than cores work, but slowly: every time step waits for a thread that may not be running,
   * so such a pool sleeps instead of spinning while it waits.
   */
  threads?: number;
  /**
   * 'auto' (default): a call runs on several threads only where the work they take off this thread
   * outweighs the cost of the barriers, per the measurements at start-up. 'always' splits every call
   * and moves as much work between threads as it can (for tests: every path of the split runs; slower).
   */
  split?: 'auto' | 'always';
  /**
   * Where `forwardAsync` runs. 'auto' (default): in a worker recur starts and manages when this is a
   * browser page's main thread (so a long forward never freezes the page, and threads become
   * available there), on the calling thread elsewhere. true: always in the worker (in Node too, to keep
   * a server's event loop free). false: never. `forward()` always runs on the calling thread; weights
   * go to the worker once, on their first asynchronous call.
   */
  proxy?: 'auto' | boolean;
}

/** Most threads a backend accepts: more than any CPU core count a page or server sees in practice. */
const MAX_THREADS = 64;
/** The default's cap: beyond 4 threads a recurrent step's barrier costs more than the work it splits. */
const DEFAULT_THREADS_CAP = 4;

function checkOptions(options: WasmBackendOptions): void {
  if (options === null || typeof options !== 'object') {
    throw new ArgumentError(`createWasmBackend: expected an options object, got ${describeValue(options)}`);
  }
  if (options.proxy !== undefined && options.proxy !== 'auto' && typeof options.proxy !== 'boolean') {
    throw new ArgumentError(`createWasmBackend: expected proxy as 'auto', true or false, got ${describeValue(options.proxy)}`);
  }
  if (options.split !== undefined && options.split !== 'auto' && options.split !== 'always') {
    throw new ArgumentError(`createWasmBackend: expected split as 'auto' or 'always', got ${describeValue(options.split)}`);
  }
  const t = options.threads;
  if (t === undefined) return;
  if (typeof t !== 'number' || !Number.isInteger(t)) {
    throw new ArgumentError(`createWasmBackend: expected threads as a positive integer, got ${describeValue(t)}`);
  }
  if (t < 1 || t > MAX_THREADS) {
    throw new RangeArgumentError(`createWasmBackend: threads must be between 1 and ${MAX_THREADS}, got ${t}`);
  }
}

/**
 * A wasm backend instance with its own memory (and, with threads, its own worker pool).
 * @example
 * const simdOnly = createWasmBackend({ name: 'wasm-simd128', relaxedSimd: false });
 * const twoThreads = createWasmBackend({ name: 'wasm-2t', threads: 2 });
 */
export function createWasmBackend(options: WasmBackendOptions = {}): WasmBackend {
  checkOptions(options);
  const name = options.name ?? 'wasm';
  let runtime: WasmRuntime | null = null;
  let pending: Promise<void> | null = null;
  let failure: string | null = null;
  let variant: KernelVariant | null = null;
  let requested = options.threads ?? 1;
  /** Why threads are off; null while they run or when one thread was asked for. */
  let threadsReason: string | null = null;
  /** The pool being started in the background after initSync, awaited by init(). */
  let starting: Promise<void> | null = null;
  let disposed = false;
  /** The measured GEMM rate, kept across reset() (the machine did not change). */
  let gemmRate = 0;
  const capabilities = { backward: true, threads: 1, async: false, sync: true, concurrent: true };
  /** The worker forwardAsync runs in (the proxy option), once started; why not, if it failed. */
  let proxy: WorkerProxy | null = null;
  let proxyReason: string | null = null;
  const proxyWanted = () => options.proxy === true || (options.proxy !== false && isPageMainThread());

  /** Starts the worker for forwardAsync; on failure records why (forwardAsync then runs here). */
  const startProxy = async (chosen: KernelVariant): Promise<void> => {
    const threads = options.threads ?? Math.min(await coreCount(), DEFAULT_THREADS_CAP);
    const whyNotShared = threads > 1 ? sharedMemoryUnavailableReason() : null;
    const shared = threads > 1 && whyNotShared === null;
    try {
      const started = await WorkerProxy.start({
        backend: name,
        module: await compileKernels(chosen, shared),
        shared,
        whyNotShared,
        threads,
        split: options.split ?? 'auto',
        onBroken: (reason) => {
          proxyReason = `forwardAsync runs on the calling thread: its worker failed (${reason})`;
          proxy = null;
          capabilities.async = false;
        },
      });
      if (disposed) {
        void started.close();
        return;
      }
      proxy = started;
      if (!runtime?.pool) requested = threads;
      capabilities.async = true;
      capabilities.threads = Math.max(capabilities.threads, started.threads.active);
    } catch (error) {
      proxyReason = `forwardAsync runs on the calling thread: its worker could not start (${error instanceof Error ? error.message : String(error)})`;
    }
  };

  const px = (): WorkerProxy => {
    if (!proxy) throw new BackendError(`${name}: no worker runs forwardAsync here${proxyReason ? ` (${proxyReason})` : ''}; forward() runs on the calling thread`);
    return proxy;
  };

  const rt = (): WasmRuntime => {
    if (!runtime) throw new BackendError(`${name} backend used before init(): await ready() or setBackend('${name}') first`);
    return runtime;
  };

  const pickVariant = (): KernelVariant => {
    const reason = simdUnavailableReason();
    if (reason) throw new BackendError(`${name}: ${reason}`);
    return options.relaxedSimd !== false && relaxedSimdAvailable() ? 'relaxed-simd' : 'simd128';
  };

  /** Whether to build on a shared memory: threads may be wanted (the count is known later) and can run here. */
  const wantShared = (): boolean => {
    if (options.threads === 1 || disposed) return false;
    threadsReason = threadsUnavailableReason();
    return threadsReason === null;
  };

  /** Starts the workers for `target` (a runtime on a shared memory); on failure records why and stays on one thread. */
  const startPool = async (target: WasmRuntime, kernels: Kernels): Promise<void> => {
    requested = options.threads ?? Math.min(await coreCount(), DEFAULT_THREADS_CAP);
    if (requested <= 1) return;
    try {
      gemmRate = await startThreads(target, kernels.module, requested, options.split ?? 'auto', gemmRate, () => runtime === target && !disposed);
      if (target.pool) {
        capabilities.threads = requested;
        threadsReason = null;
      }
    } catch (error) {
      threadsReason = `threads are off: the worker threads could not start (${error instanceof Error ? error.message : String(error)})`;
    }
  };

  const init = async (): Promise<void> => {
    if (runtime) {
      await starting;
      return;
    }
    pending ??= (async () => {
      const chosen = pickVariant();
      const shared = wantShared();
      const memory = createMemory(shared);
      const kernels = await instantiateKernels(memory, chosen, shared);
      const created = new WasmRuntime(kernels.exports, memory, name);
      runtime = created;
      variant = chosen;
      if (shared) await startPool(created, kernels);
      if (proxyWanted()) await startProxy(chosen);
    })().catch((error: unknown) => {
      failure = error instanceof Error ? error.message : String(error);
      pending = null;
      throw error;
    });
    return pending;
  };

  /**
   * Where compiling synchronously is allowed (Node, workers), a first forward needs no `await ready()`;
   * the worker threads then start in the background and take part from the first call after they are up.
   */
  const initSync = (): void => {
    if (runtime) return;
    try {
      const chosen = pickVariant();
      const shared = wantShared();
      const memory = createMemory(shared);
      const kernels = instantiateKernelsSync(memory, chosen, shared);
      const created = new WasmRuntime(kernels.exports, memory, name);
      runtime = created;
      variant = chosen;
      const background: Array<Promise<void>> = [];
      if (shared) background.push(startPool(created, kernels));
      if (proxyWanted()) background.push(startProxy(chosen));
      if (background.length > 0) starting = Promise.all(background).then(() => undefined);
    } catch (error) {
      failure = error instanceof Error ? error.message : String(error);
      throw error;
    }
  };

  const stopPool = (): void => {
    runtime?.pool?.dispose();
    if (runtime) runtime.pool = null;
    capabilities.threads = proxy ? proxy.threads.active : 1;
  };

  const reset = async (): Promise<void> => {
    await pending?.catch(() => undefined);
    await starting;
    if (!runtime || !variant) return;
    const shared = runtime.pool !== null && wantShared();
    const memory = createMemory(shared);
    const kernels = await instantiateKernels(memory, variant, shared);
    stopPool();
    runtime?.drop();
    const created = new WasmRuntime(kernels.exports, memory, name);
    runtime = created;
    if (shared) await startPool(created, kernels);
  };

  const dispose = (): void => {
    disposed = true;
    const worker = proxy;
    // New forwards run on the calling thread; one in flight finishes in the worker, which ends then.
    capabilities.async = false;
    if (worker) {
      void worker.close().then(() => {
        if (proxy === worker) proxy = null;
      });
    }
    stopPool();
    if (requested > 1) threadsReason = 'threads are off: the backend was disposed (its worker threads ended); it runs on one thread';
  };

  const threadInfo = (): WasmThreadInfo => {
    const r = runtime;
    const pool = r?.pool ?? null;
    if (pool?.broken && r) {
      threadsReason = `threads are off: ${pool.broken}`;
      stopPool();
    }
    return {
      requested,
      active: r?.pool ? r.pool.size : 1,
      reason: [requested > 1 || options.threads === undefined ? threadsReason : null, proxyReason].filter(Boolean).join('; ') || null,
      lastCall: r?.lastThreads ?? 1,
      threadedCalls: r?.threadedCalls ?? 0,
      singleCalls: r?.singleCalls ?? 0,
      tasksMoved: r?.tasksMoved ?? 0,
      barrierNs: pool?.timings.barrierNs ?? 0,
      callNs: pool?.timings.callNs ?? 0,
      gflops: r ? r.flopsPerNs : 0,
      worker: proxy
        ? { active: proxy.threads.active, reason: proxy.threads.reason, lastCall: proxy.lastThreads, weightsSent: proxy.weightsSent }
        : null,
    };
  };

  return {
    name,
    priority: options.priority ?? 10,
    ...(canCompileSync() ? { initSync } : {}),
    interfaceVersion: BACKEND_INTERFACE_VERSION,
    capabilities,
    init,
    unavailableReason: () => failure ?? (runtime ? threadInfo().reason : simdUnavailableReason()),
    memoryStats: () => (runtime ? runtime.heap.stats() : { bytes: 0, allocated: 0, blocks: 0, free: 0, freeBlocks: 0, top: 0 }),
    reset,
    kernelVariant: () => variant,
    threadInfo,
    dispose,
    matmul: (a, b, m, k, n, o) => rt().matmul(a, b, m, k, n, o),
    prepareWeights: (w: RecurrentWeights) => rt().prepare(w),
    createWorkspace: (options) => rt().createWorkspace(options),
    layer: (args, workspace) => rt().layer(args, workspace),
    layers: (calls) => rt().layers(calls),
    layerBackward: (args, workspace) => rt().layerBackward(args, workspace),
    upload: (data) => px().upload(data),
    allocate: (length) => px().allocate(length),
    layerAsync: (args, workspace) => px().layer(args, workspace),
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
