// The backend registry: which backends exist, which one runs kernels now, and the shared `ready()`.
// Its state lives on globalThis under a registered symbol so two copies of this package agree.

import { BACKEND_INTERFACE_VERSION, type Backend, type BackendCapabilities } from './backend.js';
import { ArgumentError, BackendError, describeValue } from './errors.js';
import { warnOnce } from './warnings.js';

type Status = { state: 'uninitialised' } | { state: 'ready' } | { state: 'failed'; error: unknown };

interface RegistryState {
  backends: Map<string, Backend>;
  inits: Map<string, Promise<void>>;
  status: Map<string, Status>;
  current: Backend | null;
  /** True when the current backend was chosen by `setBackend` or `ready()`, not activated lazily. */
  chosen: boolean;
  /** Counts `setBackend` choices, so a `ready()` that was pending meanwhile does not override one. */
  explicitChoices: number;
  pendingReady: Promise<string> | null;
}

const KEY = Symbol.for('@recur/core-tensor/registry');

function state(): RegistryState {
  const g = globalThis as unknown as Record<symbol, RegistryState | undefined>;
  let s = g[KEY];
  if (!s) {
    s = {
      backends: new Map(),
      inits: new Map(),
      status: new Map(),
      current: null,
      chosen: false,
      explicitChoices: 0,
      pendingReady: null,
    };
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

/**
 * Removes a backend by name; if it was the current one, no backend is current afterwards.
 * @example
 * unregisterBackend('wasm-2t'); // true if it was registered
 */
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

const REQUIRED = ['init', 'matmul', 'prepareWeights', 'createWorkspace', 'layer'] as const;
const BY_CAPABILITY = { backward: ['layerBackward'], async: ['upload', 'allocate', 'layerAsync'], concurrent: ['layers'] } as const;

function validate(backend: Backend): void {
  const b = backend as Partial<Backend> | null;
  if (!b || typeof b !== 'object') throw new ArgumentError(`registerBackend: expected a backend object, got ${describeValue(b)}`);
  if (typeof b.name !== 'string' || b.name.length === 0) {
    throw new ArgumentError(`registerBackend: expected a non-empty string name, got ${describeValue(b.name)}`);
  }
  if (typeof b.priority !== 'number' || !Number.isFinite(b.priority)) {
    throw new ArgumentError(`registerBackend: backend '${b.name}' expected a finite number priority, got ${describeValue(b.priority)}`);
  }
  if (b.interfaceVersion !== BACKEND_INTERFACE_VERSION) {
    throw new BackendError(
      `registerBackend: backend '${b.name}' implements interface version ${String(b.interfaceVersion)}, expected ${BACKEND_INTERFACE_VERSION} (newer abilities are declared in capabilities, not by version)`,
    );
  }
  const caps = b.capabilities ?? {};
  if (typeof caps !== 'object' || caps === null) {
    throw new ArgumentError(`registerBackend: backend '${b.name}' expected capabilities as an object, got ${describeValue(caps)}`);
  }
  if (caps.threads !== undefined && !(Number.isInteger(caps.threads) && caps.threads >= 1)) {
    throw new ArgumentError(`registerBackend: backend '${b.name}' expected capabilities.threads as a positive integer, got ${describeValue(caps.threads)}`);
  }
  const members: string[] = [...REQUIRED];
  for (const [cap, names] of Object.entries(BY_CAPABILITY)) if (caps[cap as keyof typeof BY_CAPABILITY]) members.push(...names);
  const missing = members.filter((m) => typeof (b as Record<string, unknown>)[m] !== 'function');
  if (missing.length > 0) {
    throw new BackendError(`registerBackend: backend '${b.name}' lacks ${missing.map((m) => `${m}()`).join(', ')}, which its interface version and capabilities require`);
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
  const choicesAtStart = s.explicitChoices;
  const attempt = (async () => {
    const failures: Array<{ backend: string; error: unknown }> = [];
    for (const b of sorted()) {
      try {
        await initialise(b);
      } catch (error) {
        failures.push({ backend: b.name, error });
        continue;
      }
      // A setBackend() made while this was pending wins over the fastest backend.
      if (s.explicitChoices !== choicesAtStart && s.current) return s.current.name;
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
  const b = typeof name === 'string' ? s.backends.get(name) : undefined;
  if (!b) {
    throw new BackendError(`setBackend: unknown backend ${typeof name === 'string' ? `'${name}'` : describeValue(name)}; registered: ${registeredNames()}`);
  }
  try {
    await initialise(b);
  } catch (error) {
    throw new BackendError(`setBackend: backend '${name}' failed to initialise: ${errorText(error)}`, { cause: error });
  }
  s.current = b;
  s.chosen = true;
  s.explicitChoices++;
  s.pendingReady = null;
  return name;
}

/**
 * The current backend object. With none chosen yet, activates the highest-priority registered backend
 * that can initialise synchronously (the `js` backend can), so a forward pass needs no set-up.
 * @example
 * activeBackend().name; // 'js' before ready(), the chosen backend after
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
    const faster = sorted().find((o) => o.priority > b.priority && s.status.get(o.name)?.state !== 'failed');
    if (faster) {
      warnOnce(
        `running on the '${b.name}' backend because no backend was chosen before the first forward; '${faster.name}' is registered and usually much faster: \`await ready()\` once at start-up to use it (or setBackend('${b.name}') to keep '${b.name}' and silence this)`,
      );
    }
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

/**
 * One registered backend as `backendStatus()` reports it.
 * @example
 * const [first] = backendStatus();
 * if (first && first.threads === 1 && first.reason) console.log(first.reason); // why threads are off
 */
export interface BackendStatus {
  name: string;
  priority: number;
  state: Status['state'];
  /** Whether this is the backend kernels run on now. */
  current: boolean;
  /** Threads its kernels use (1 unless it declares more). */
  threads: number;
  capabilities: BackendCapabilities;
  /** Why it (or a capability such as threads) is unavailable here, in words a user can act on; null when nothing is missing. */
  reason: string | null;
  /** The initialisation error of a backend that failed. */
  error?: unknown;
}

/**
 * Each registered backend's state, fastest first: ready or not, thread count, capabilities, and why
 * something is unavailable (the backend's own `unavailableReason()`, or its initialisation error).
 * @example
 * backendStatus(); // [{ name: 'wasm', state: 'ready', current: true, threads: 1, reason: null, ... }, ...]
 */
export function backendStatus(): BackendStatus[] {
  const s = state();
  return sorted().map((b) => {
    const st = s.status.get(b.name) ?? { state: 'uninitialised' as const };
    const capabilities = { ...(b.capabilities ?? {}) };
    let reason: string | null = null;
    try {
      reason = b.unavailableReason?.() ?? null;
    } catch (error) {
      reason = `unavailableReason() failed: ${errorText(error)}`;
    }
    if (st.state === 'failed') reason ??= errorText(st.error);
    const entry: BackendStatus = {
      name: b.name,
      priority: b.priority,
      state: st.state,
      current: s.current === b,
      threads: capabilities.threads ?? 1,
      capabilities,
      reason,
    };
    if (st.state === 'failed') entry.error = st.error;
    return entry;
  });
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
