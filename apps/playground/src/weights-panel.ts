// The "Weights from PyTorch" panel: a .safetensors file chosen or dropped is read, its metadata and
// keys listed (as text: every name comes from the file), and the configuration it implies put in the form.

import { type SafetensorsFile, readSafetensors } from '@recur/nn-recurrent';
import { type Config, fmt } from './config.js';
import { byId, html, showError } from './dom.js';
import type { Form } from './form.js';
import type { StateDictPayload } from './protocol.js';
import { type Inspection, inspect } from './weights.js';

/** The file's `__metadata__` as a definition list, or nothing when it has none. */
function metadataList(metadata: Record<string, string>): HTMLElement[] {
  const entries = Object.entries(metadata);
  if (entries.length === 0) return [];
  return [html('dl', { class: 'metadata', 'aria-label': 'metadata' }, ...entries.flatMap(([k, v]) => [html('dt', {}, k), html('dd', {}, v)]))];
}

function keysTable(keys: Inspection['keys']): HTMLTableElement {
  const row = (k: Inspection['keys'][number]) => html('tr', {}, html('td', {}, html('code', {}, k.name)), html('td', {}, html('code', {}, fmt(k.shape))));
  return html('table', {}, html('thead', {}, html('tr', {}, html('th', {}, 'key'), html('th', {}, 'shape'))), html('tbody', {}, ...keys.map(row)));
}

function describeInferred(c: Partial<Config>): string {
  const parts = [`${c.kind}(${c.inputSize}, ${c.hiddenSize}`];
  if (c.numLayers && c.numLayers > 1) parts.push(`numLayers=${c.numLayers}`);
  if (c.bidirectional) parts.push('bidirectional');
  if (c.projSize) parts.push(`projSize=${c.projSize}`);
  if (c.bias === false) parts.push('bias=false');
  return `${parts.join(', ')})`;
}

function payloadOf(tensors: SafetensorsFile['tensors']): StateDictPayload {
  const payload: StateDictPayload = {};
  for (const [k, t] of Object.entries(tensors)) payload[k] = { shape: [...t.shape], data: t.dataSync() };
  return payload;
}

/** Sets up the file input and drop zone; the returned function gives the loaded weights, or null. */
export function setUpWeightsPanel(form: Form): () => StateDictPayload | null {
  let weights: StateDictPayload | null = null;
  const status = byId('weights-status');
  const detail = byId('weights-detail');

  const forget = html('button', { type: 'button' }, 'Forget these weights');
  forget.addEventListener('click', () => {
    weights = null;
    status.className = '';
    status.textContent = 'Using seeded weights again.';
    detail.replaceChildren();
  });

  const load = async (file: File): Promise<void> => {
    detail.replaceChildren();
    weights = null;
    let read: SafetensorsFile;
    try {
      read = readSafetensors(new Uint8Array(await file.arrayBuffer()));
    } catch (error) {
      return showError(status, `${file.name} could not be read as safetensors: ${(error as Error).message}`);
    }
    const info = inspect(read.tensors);
    detail.append(...metadataList(read.metadata), keysTable(info.keys));
    if (!info.inferred) return showError(status, `${file.name}: ${info.problem}`);
    weights = payloadOf(read.tensors);
    form.update({ ...info.inferred, projSize: info.inferred.projSize ?? 0 });
    status.className = 'ok';
    status.textContent = `${file.name}: ${info.keys.length} tensors, a ${describeInferred(info.inferred)}. The form now matches it; Run uses these weights.`;
    detail.append(forget);
  };

  const drop = byId('drop');
  const input = byId<HTMLInputElement>('file');
  input.addEventListener('change', () => {
    if (input.files?.[0]) void load(input.files[0]);
  });
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const f = e.dataTransfer?.files[0];
    if (f) void load(f);
  });
  return () => weights;
}
