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
