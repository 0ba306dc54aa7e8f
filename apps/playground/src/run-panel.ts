// The Run and Compare buttons: one forward pass in the worker on the chosen backend, or on js and
// wasm side by side with their largest difference, reported in the status line and drawn as results.

import { selectedBackend } from './backend-picker.js';
import { byId, showError } from './dom.js';
import type { Form } from './form.js';
import { readPasted } from './pasted-input.js';
import type { StateDictPayload } from './protocol.js';
import { showResult } from './results.js';
import { threadsRan, threadsUsed } from './threads.js';
import type { Ask } from './worker-client.js';

export interface RunPanelDeps {
  ask: Ask;
  form: Form;
  /** The weights loaded from a file, or null for seeded ones. */
  weights: () => StateDictPayload | null;
}

async function run({ ask, form, weights }: RunPanelDeps): Promise<void> {
  const c = form.lastValid();
  const status = byId('run-status');
  const input = readPasted(c);
  if (input === undefined) return;
  const backend = selectedBackend();
  const loaded = weights();
  const r = await form.whileBusy(() => {
    status.className = '';
    status.textContent = `Running ${c.kind} on ${backend}…`;
    return ask({ type: 'run', config: c, backend, input, weights: loaded });
  });
  if (r.type === 'error') return showError(status, `Could not run: ${r.message}`);
  if (r.type !== 'result') return;
  const threads = r.result.threads;
  status.textContent = `${c.kind} forward on ${r.result.backend}: ${r.result.ms.toFixed(2)} ms${loaded ? ' (loaded weights)' : ` (seeded weights, seed ${c.seed})`}${threads ? `, ${threadsRan(threads)}` : ''}`;
  status.dataset.backend = r.result.backend;
  if (threads) status.dataset.threads = String(threadsUsed(threads));
  else delete status.dataset.threads;
  showResult(c, r.result);
}

async function compare({ ask, form, weights }: RunPanelDeps): Promise<void> {
  const c = form.lastValid();
  const status = byId('run-status');
  const input = readPasted(c);
  if (input === undefined) return;
  const r = await form.whileBusy(() => {
    status.textContent = 'Running on js and on wasm…';
    return ask({ type: 'compare', config: c, input, weights: weights() });
  });
  if (r.type === 'error') return showError(status, `Could not compare: ${r.message}`);
  if (r.type !== 'compared') return;
  status.className = r.maxAbsDiff < 1e-4 ? 'ok' : 'bad';
  status.dataset.maxAbsDiff = String(r.maxAbsDiff);
  status.textContent = `js ${r.js.ms.toFixed(2)} ms, wasm ${r.wasm.ms.toFixed(2)} ms; max |js − wasm| over output and h_n = ${r.maxAbsDiff.toExponential(2)}`;
  showResult(c, r.wasm);
}

export function setUpRunPanel(deps: RunPanelDeps): void {
  byId('run-button').addEventListener('click', () => void run(deps));
  byId('compare-button').addEventListener('click', () => void compare(deps));
}
