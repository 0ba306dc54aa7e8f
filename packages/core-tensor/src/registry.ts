// The backend registry: which backends exist, which one runs kernels now, and the shared `ready()`.
// Its state lives on globalThis under a registered symbol so two copies of this package agree.

import { BACKEND_INTERFACE_VERSION, type Backend } from './backend.js';
import { BackendError } from './errors.js';

type Status = { state: 'uninitialised' } | { state: 'ready' } | { state: 'failed'; error: unknown };

interface RegistryState {
  backends: Map<string, Backend>;
  inits: Map<string, Promise<void>>;
  status: Map<string, Status>;
  current: Backend | null;
  /** True when the current backend was chosen by `setBackend` or `ready()`, not activated lazily. */
  chosen: boolean;
  pendingReady: Promise<string> | null;
}

const KEY = Symbol.for('@recur/core-tensor/registry');

function state(): RegistryState {
  const g = globalThis as unknown as Record<symbol, RegistryState | undefined>;
  let s = g[KEY];
  if (!s) {
    s = { backends: new Map(), inits: new Map(), status: new Map(), current: null, chosen: false, pendingReady: null };
    g[KEY] = s;
  }
  return s;
}

function sorted(): Backend[] {
  return [...state().backends.values()].sort((a, b) => b.priority - a.priority);
}

function registeredNames(): string {
  const names = sorted().map((b) => b.name);
  return names.length ? names.join(', ') : '(none)';
}

/**
 * Adds a backend. Registering a backend whose name is taken keeps the first one unless
 * `override` is set (so two copies of a kernels package do not fight). Returns true if added.
 * @example
 * registerBackend(wasmBackend);
 */
export function registerBackend(backend: Backend, options?: { override?: boolean }): boolean {
  validate(backend);
  const s = state();
  const existing = s.backends.get(backend.name);
  if (existing === backend) return false;
  if (existing && !options?.override) return false;
  if (existing && s.current === existing) {
    s.current = null;
    s.chosen = false;
  }
  s.backends.set(backend.name, backend);
  s.inits.delete(backend.name);
  s.status.set(backend.name, { state: 'uninitialised' });
  s.pendingReady = null;
  return true;
}

/** Removes a backend by name; if it was the current one, no backend is current afterwards. */
export function unregisterBackend(name: string): boolean {
  const s = state();
  const b = s.backends.get(name);
  if (!b) return false;
  s.backends.delete(name);
  s.inits.delete(name);
  s.status.delete(name);
  if (s.current === b) {
    s.current = null;
    s.chosen = false;
  }
  s.pendingReady = null;
  return true;
}

function validate(backend: Backend): void {
  const b = backend as Partial<Backend> | null;
  if (!b || typeof b !== 'object') throw new BackendError(`registerBackend: expected a backend object, got ${String(b)}`);
  if (typeof b.name !== 'string' || b.name.length === 0) {
    throw new BackendError(`registerBackend: expected a non-empty string name, got ${String(b.name)}`);
  }
  if (typeof b.priority !== 'number' || !Number.isFinite(b.priority)) {
    throw new BackendError(`registerBackend: backend '${b.name}' expected a finite number priority, got ${String(b.priority)}`);
  }
  if (typeof b.init !== 'function') {
    throw new BackendError(`registerBackend: backend '${b.name}' has no init() function`);
  }
  if (b.interfaceVersion !== BACKEND_INTERFACE_VERSION) {
    throw new BackendError(
      `registerBackend: backend '${b.name}' implements interface version ${String(b.interfaceVersion)}, expected ${BACKEND_INTERFACE_VERSION}`,
    );
  }
}

function initialise(b: Backend): Promise<void> {
  const s = state();
  let p = s.inits.get(b.name);
  if (!p) {
    p = Promise.resolve()
      .then(() => b.init())
      .then(
        () => {
          s.status.set(b.name, { state: 'ready' });
        },
        (error: unknown) => {
          s.status.set(b.name, { state: 'failed', error });
          throw error;
        },
      );
    s.inits.set(b.name, p);
  }
  return p;
}

/**
 * Initialises the fastest registered backend that works here and makes it current; resolves to its
 * name. Concurrent calls share one pending promise. If a backend was chosen with `setBackend`, resolves
 * to that one. Rejects with one `BackendError` listing every failure only if no backend works.
 * @example
 * registerBackend(wasmBackend);
 * const name = await ready(); // 'wasm', or 'js' where WebAssembly SIMD is missing
 */
export function ready(): Promise<string> {
  const s = state();
  if (s.chosen && s.current) return Promise.resolve(s.current.name);
  if (s.pendingReady) return s.pendingReady;
  const attempt = (async () => {
    const failures: Array<{ backend: string; error: unknown }> = [];
    for (const b of sorted()) {
      try {
        await initialise(b);
      } catch (error) {
        failures.push({ backend: b.name, error });
        continue;
      }
      if (s.backends.get(b.name) !== b) continue;
      s.current = b;
      s.chosen = true;
      return b.name;
    }
    const detail = failures.map((f) => `${f.backend}: ${errorText(f.error)}`).join('; ');
    throw new BackendError(
      s.backends.size === 0
        ? `ready: no backend registered; import { jsBackend } from '@recur/kernels-js' and call registerBackend(jsBackend)`
        : `ready: no registered backend could initialise (${detail})`,
      { failures },
    );
  })();
  s.pendingReady = attempt;
  attempt.catch(() => {
    if (s.pendingReady === attempt) s.pendingReady = null;
  });
  return attempt;
}

/**
 * Makes the named backend current, initialising it first. Rejects for an unknown name (listing the
 * registered ones) or a backend that fails to initialise; the current backend is unchanged then.
 * @example
 * await setBackend('js');
 */
export async function setBackend(name: string): Promise<string> {
  const s = state();
  const b = s.backends.get(name);
  if (!b) {
    throw new BackendError(`setBackend: unknown backend '${String(name)}'; registered: ${registeredNames()}`);
  }
  try {
    await initialise(b);
  } catch (error) {
    throw new BackendError(`setBackend: backend '${name}' failed to initialise: ${errorText(error)}`, { cause: error });
  }
  s.current = b;
  s.chosen = true;
  s.pendingReady = null;
  return name;
}

/**
 * The current backend object. With none chosen yet, activates the highest-priority registered backend
 * that can initialise synchronously (the `js` backend can), so a forward pass needs no set-up.
 */
export function activeBackend(): Backend {
  const s = state();
  if (s.current) return s.current;
  for (const b of sorted()) {
    if (!b.initSync) continue;
    const st = s.status.get(b.name);
    if (st?.state === 'failed') continue;
    try {
      if (st?.state !== 'ready') b.initSync();
    } catch (error) {
      s.status.set(b.name, { state: 'failed', error });
      continue;
    }
    s.status.set(b.name, { state: 'ready' });
    s.inits.set(b.name, Promise.resolve());
    s.current = b;
    return b;
  }
  throw new BackendError(
    `no backend is ready: import { jsBackend } from '@recur/kernels-js' and registerBackend(jsBackend), or await ready() (registered: ${registeredNames()})`,
  );
}

/**
 * The current backend's name, e.g. `'js'` or `'wasm'`.
 * @example
 * getBackend(); // 'js'
 */
export function getBackend(): string {
  return activeBackend().name;
}

/**
 * Names of the registered backends, fastest (highest priority) first.
 * @example
 * listBackends(); // ['wasm', 'js']
 */
export function listBackends(): string[] {
  return sorted().map((b) => b.name);
}

/** Each registered backend's state, with the error of one that failed to initialise. */
export function backendStatus(): Array<{ name: string; priority: number; state: Status['state']; error?: unknown }> {
  const s = state();
  return sorted().map((b) => {
    const st = s.status.get(b.name) ?? { state: 'uninitialised' as const };
    return st.state === 'failed'
      ? { name: b.name, priority: b.priority, state: st.state, error: st.error }
      : { name: b.name, priority: b.priority, state: st.state };
  });
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
