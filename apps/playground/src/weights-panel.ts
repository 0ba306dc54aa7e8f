// The "Weights from PyTorch" panel: a .safetensors or .pt file, an .onnx graph, or a Keras / TF.js
// model.json with its weight shards, chosen or dropped, is read, what it holds listed (as text: every
// name comes from the file), and the configuration it implies put in the form.

import { fromKeras, fromOnnx, loadTorch } from '@recur/convert';
import type { Tensor } from '@recur/core-tensor';
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

/** The recurrent modules an ONNX graph or a Keras model holds, as a list (names are the file's, shown as text). */
function modulesList(found: Array<{ name: string; kind: string; module: { stateDict(): Record<string, Tensor> } }>): HTMLElement {
  return html('ul', { class: 'found', 'aria-label': 'recurrent layers found' }, ...found.map((f, i) => html('li', {}, html('code', {}, f.name), ` ${f.kind}${i === 0 ? ' (loaded)' : ''}`)));
}

/** What a dropped set of files holds: a state dict and, for graphs and models, the layers found. */
async function readFiles(files: File[]): Promise<{ name: string; tensors: Record<string, Tensor>; metadata: Record<string, string>; found: HTMLElement | null; kind: string }> {
  const byExt = (re: RegExp) => files.find((f) => re.test(f.name));
  const json = byExt(/\.json$/i);
  if (json) {
    const text = await json.text();
    const manifest = (JSON.parse(text) as { weightsManifest?: Array<{ paths?: string[] }> }).weightsManifest ?? [];
    const shards: Uint8Array[] = [];
    for (const path of manifest.flatMap((g) => g.paths ?? [])) {
      const shard = files.find((f) => f.name === path.split('/').pop());
      if (!shard) throw new Error(`model.json lists the weight shard ${path}; drop it together with model.json`);
      shards.push(new Uint8Array(await shard.arrayBuffer()));
    }
    const weightData = new Uint8Array(shards.reduce((n, s) => n + s.length, 0));
    let at = 0;
    for (const shard of shards) {
      weightData.set(shard, at);
      at += shard.length;
    }
    const found = fromKeras(text, weightData).map((l) => ({ name: l.name, kind: l.kind, module: l.module }));
    if (!found.length) throw new Error('the model has no LSTM, GRU, SimpleRNN or Bidirectional layer');
    return { name: json.name, tensors: found[0]!.module.stateDict(), metadata: {}, found: modulesList(found), kind: 'Keras model' };
  }
  const file = files[0]!;
  const bytes = new Uint8Array(await file.arrayBuffer());
  if (/\.onnx$/i.test(file.name)) {
    const found = fromOnnx(bytes).map((n) => ({ name: n.path, kind: n.op, module: n.module }));
    if (!found.length) throw new Error('the graph has no LSTM, GRU or RNN node');
    return { name: file.name, tensors: found[0]!.module.stateDict(), metadata: {}, found: modulesList(found), kind: 'ONNX' };
  }
  if (/\.pth?$/i.test(file.name)) return { name: file.name, tensors: loadTorch(bytes), metadata: {}, found: null, kind: 'a torch.save file' };
  const read = readSafetensors(bytes);
  return { name: file.name, tensors: read.tensors, metadata: read.metadata, found: null, kind: 'safetensors' };
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

  const load = async (files: File[]): Promise<void> => {
    detail.replaceChildren();
    weights = null;
    let read: Awaited<ReturnType<typeof readFiles>>;
    try {
      read = await readFiles(files);
    } catch (error) {
      const names = files.map((f) => f.name).join(', ');
      const any = (re: RegExp) => files.some((f) => re.test(f.name));
      const as = any(/\.json$/i) ? 'a Keras model' : any(/\.onnx$/i) ? 'ONNX' : any(/\.pth?$/i) ? 'a torch.save file' : 'safetensors';
      return showError(status, `${names} could not be read as ${as}: ${(error as Error).message}`);
    }
    const info = inspect(read.tensors);
    detail.append(...metadataList(read.metadata), ...(read.found ? [read.found] : []), keysTable(info.keys));
    if (!info.inferred) return showError(status, `${read.name}: ${info.problem}`);
    weights = payloadOf(read.tensors);
    form.update({ ...info.inferred, projSize: info.inferred.projSize ?? 0 });
    status.className = 'ok';
    status.textContent = `${read.name}: ${info.keys.length} tensors, a ${describeInferred(info.inferred)}. The form now matches it; Run uses these weights.`;
    detail.append(forget);
  };

  const drop = byId('drop');
  const input = byId<HTMLInputElement>('file');
  input.accept = '.safetensors,.pt,.pth,.onnx,.json,.bin';
  input.multiple = true;
  const hint = drop.querySelector('span');
  if (hint) hint.textContent = 'Choose or drop a .safetensors, .pt or .onnx file, or a model.json with its .bin shards';
  input.addEventListener('change', () => {
    if (input.files?.length) void load([...input.files]);
  });
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const files = [...(e.dataTransfer?.files ?? [])];
    if (files.length) void load(files);
  });
  return () => weights;
}
