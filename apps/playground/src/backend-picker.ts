// The backend select in the Run panel: filled with what ready() found in the worker (unavailable
// backends listed, disabled, with the reason), and read by runs and the benchmark.

import { byId } from './dom.js';
import type { Response } from './protocol.js';
import { threadsAvailable } from './threads.js';

type Ready = Extract<Response, { type: 'ready' }>;

const picker = () => byId<HTMLSelectElement>('backend');

/** Lists the backends, selects the one ready() chose, and says why any is unavailable. */
export function fillBackendPicker(r: Ready): void {
  const select = picker();
  for (const name of r.backends) {
    const o = new Option(name + (r.unavailable[name] ? ' (unavailable)' : ''), name);
    o.disabled = Boolean(r.unavailable[name]);
    select.append(o);
  }
  select.value = r.chosen;
  const reasons = Object.entries(r.unavailable).map(([n, why]) => `${n}: ${why}`);
  const threads = r.threads ? `, ${threadsAvailable(r.threads)}` : '';
  const variant = r.wasmVariant ? ` (wasm kernels: ${r.wasmVariant}${threads})` : '';
  const status = byId('backend-status');
  status.textContent = `ready() chose ${r.chosen}${variant}${reasons.length ? `; ${reasons.join('; ')}` : ''}`;
  if (r.threads) status.dataset.threads = String(r.threads.active);
}

export const selectedBackend = (): string => picker().value;

/** Every backend in the list, in its order. */
export const listedBackends = (): string[] => [...picker().options].map((o) => o.value);
