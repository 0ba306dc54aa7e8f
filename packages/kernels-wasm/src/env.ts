// What the environment offers the kernels: a memory, Node's built-ins where they exist, the core count,
// and whether threads can run here. Free of the kernels' binaries, so the worker bundle can use it.

/** Pages of a kernels memory: 128 KiB to start, 4 GiB at most (a shared memory needs a maximum). */
const INITIAL_PAGES = 2;
const MAXIMUM_PAGES = 65536;

/** A fresh memory for the kernels; shared (a SharedArrayBuffer underneath) for the threads build. */
export function createMemory(shared: boolean): WebAssembly.Memory {
  return new WebAssembly.Memory({ initial: INITIAL_PAGES, maximum: MAXIMUM_PAGES, shared });
}

/**
 * Imports a Node built-in by a name bundlers do not follow: a browser build never loads it, and a
 * worker bundle (Vite's 'iife' format, which cannot split chunks) needs no chunk for it.
 */
export function importNodeBuiltin<T>(name: 'os' | 'worker_threads'): Promise<T> {
  const specifier = `node:${name}`;
  return import(/* @vite-ignore */ /* webpackIgnore: true */ specifier) as Promise<T>;
}

type Globals = {
  process?: { versions?: { node?: string } };
  document?: unknown;
  navigator?: { hardwareConcurrency?: number };
  crossOriginIsolated?: boolean;
  SharedArrayBuffer?: unknown;
  Atomics?: unknown;
};

export const isNode = (): boolean => Boolean((globalThis as Globals).process?.versions?.node);

/** The machine's cores: os.availableParallelism() in Node, navigator.hardwareConcurrency in browsers. */
export async function coreCount(): Promise<number> {
  if (isNode()) {
    const os = await importNodeBuiltin<typeof import('node:os')>('os');
    return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  }
  return (globalThis as Globals).navigator?.hardwareConcurrency ?? 1;
}

const ISOLATION_HEADERS =
  'serve it with the headers "Cross-Origin-Opener-Policy: same-origin" and "Cross-Origin-Embedder-Policy: require-corp" (or "credentialless")';

/** Why a shared memory cannot be made here (null if it can): no SharedArrayBuffer, or no cross-origin isolation. */
export function sharedMemoryUnavailableReason(): string | null {
  const g = globalThis as Globals;
  if (typeof g.SharedArrayBuffer !== 'function' || typeof g.Atomics !== 'object') {
    return g.document !== undefined || g.crossOriginIsolated === false
      ? `threads are off: SharedArrayBuffer needs a cross-origin isolated page; ${ISOLATION_HEADERS}`
      : 'threads are off: this environment has no SharedArrayBuffer';
  }
  if (g.crossOriginIsolated === false) return `threads are off: the page is not cross-origin isolated; ${ISOLATION_HEADERS}`;
  return null;
}

/** True on a browser page's main thread, which may not block (Atomics.wait throws there). */
export function isPageMainThread(): boolean {
  return (globalThis as Globals).document !== undefined && !isNode();
}

/**
 * Why threads cannot run on this thread (null if they can), in words a user can act on.
 * @example
 * threadsUnavailableReason(); // null in Node; on a page that is not isolated, the headers to send
 */
export function threadsUnavailableReason(): string | null {
  const shared = sharedMemoryUnavailableReason();
  if (shared) return shared;
  if (isPageMainThread()) {
    return "threads are off on a browser page's main thread, which may not block (Atomics.wait): forward() runs on one thread here; forwardAsync() runs in a worker recur manages, on threads";
  }
  return null;
}

/** A worker started from a script's text, reduced to what the pool and the proxy need. */
export interface ScriptWorker {
  post(message: unknown, transfer?: Transferable[]): void;
  /** Node: whether the worker keeps the process alive (attach listeners first: attaching one refs it). */
  ref(): void;
  unref(): void;
  /** Ends the worker; its end is then not reported to `onError`. */
  terminate(): void;
}

/**
 * Starts a worker from `source` (a classic script that also runs as Node's `eval` code): `eval` in Node,
 * a blob: URL in browsers, so no file path or bundler set-up is involved. Rejects with the reason where
 * workers cannot start here.
 */
export async function startWorker(
  source: string,
  onMessage: (message: unknown) => void,
  onError: (reason: string) => void,
): Promise<ScriptWorker> {
  if (isNode()) {
    const { Worker } = await importNodeBuiltin<typeof import('node:worker_threads')>('worker_threads');
    const worker = new Worker(source, { eval: true });
    worker.on('message', onMessage);
    worker.on('error', (e) => onError(e.message));
    worker.on('exit', (code) => onError(`exited with code ${code}`));
    return {
      post: (m, t) => worker.postMessage(m, (t ?? []) as never),
      ref: () => worker.ref(),
      unref: () => worker.unref(),
      terminate: () => {
        worker.removeAllListeners('exit');
        void worker.terminate();
      },
    };
  }
  const g = globalThis as { Worker?: unknown; Blob?: unknown };
  if (typeof g.Worker !== 'function' || typeof g.Blob !== 'function') throw new Error('this environment has no Web Workers');
  const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
  let worker: Worker;
  try {
    worker = new Worker(url);
  } catch (error) {
    URL.revokeObjectURL(url);
    throw new Error(`a worker could not be created from a blob URL (${(error as Error).message}); a Content-Security-Policy may forbid worker-src blob:`);
  }
  worker.onmessage = (e) => onMessage(e.data);
  worker.onerror = (e) => onError(e.message || 'the worker script failed to load (a Content-Security-Policy may forbid worker-src blob:)');
  return {
    post: (m, t) => worker.postMessage(m, t ?? []),
    ref: () => undefined,
    unref: () => undefined,
    terminate: () => {
      worker.terminate();
      URL.revokeObjectURL(url);
    },
  };
}

/** `promise`, or a rejection with `message` after `ms` milliseconds. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
