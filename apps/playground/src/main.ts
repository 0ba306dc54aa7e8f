// The playground page: a form for every option, the unrolled diagram and shapes updating live, runs in
// a worker (js or wasm), heatmaps, identity checks, safetensors loading, a benchmark and the code.

import { type SafetensorsFile, readSafetensors } from '@recur/nn-recurrent';
import { recurCode, torchCode } from './codegen.js';
import {
  type Config,
  DEFAULT_CONFIG,
  LIMITS,
  applies,
  fmt,
  isCell,
  numDirections,
  numLayers,
  outputSize,
  shapesOf,
  validate,
} from './config.js';
import { drawDiagram } from './diagram.js';
import { html, showError, svg } from './dom.js';
import { drawHeatmap } from './heatmap.js';
import type { Request, Response, RunResult, StateDictPayload } from './protocol.js';
import { type Inspection, inspect } from './weights.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

// ---------------------------------------------------------------- worker
const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
let nextId = 1;
const pending = new Map<number, { resolve: (r: Response) => void; onProgress?: (r: Response) => void }>();
worker.onmessage = (e: MessageEvent<Response>) => {
  const p = pending.get(e.data.id);
  if (!p) return;
  if (e.data.type === 'progress') {
    p.onProgress?.(e.data);
    return;
  }
  pending.delete(e.data.id);
  p.resolve(e.data);
};
type Unsent<R> = R extends { id: number } ? Omit<R, 'id'> : never;
function ask(req: Unsent<Request>, onProgress?: (r: Response) => void): Promise<Response> {
  const id = nextId++;
  return new Promise((resolve) => {
    pending.set(id, { resolve, onProgress });
    worker.postMessage({ ...req, id });
  });
}

// ---------------------------------------------------------------- form
type FieldSpec =
  | { key: keyof Config; label: string; type: 'number' | 'check' }
  | { key: keyof Config; label: string; type: 'select'; options: string[] };

const FIELDS: FieldSpec[] = [
  { key: 'kind', label: 'Module', type: 'select', options: ['RNN', 'LSTM', 'GRU', 'RNNCell', 'LSTMCell', 'GRUCell'] },
  { key: 'inputSize', label: 'inputSize', type: 'number' },
  { key: 'hiddenSize', label: 'hiddenSize', type: 'number' },
  { key: 'numLayers', label: 'numLayers', type: 'number' },
  { key: 'bidirectional', label: 'bidirectional', type: 'check' },
  { key: 'batchFirst', label: 'batchFirst', type: 'check' },
  { key: 'projSize', label: 'projSize (LSTM)', type: 'number' },
  { key: 'nonlinearity', label: 'nonlinearity', type: 'select', options: ['tanh', 'relu'] },
  { key: 'bias', label: 'bias', type: 'check' },
  { key: 'seqLen', label: 'sequence length T', type: 'number' },
  { key: 'batch', label: 'batch B', type: 'number' },
  { key: 'seed', label: 'seed', type: 'number' },
];

let config: Config = { ...DEFAULT_CONFIG };
let lastValid: Config = { ...config };

function buildForm(): void {
  const form = $<HTMLFormElement>('form');
  for (const f of FIELDS) {
    const wrap = document.createElement('div');
    wrap.className = `field${f.type === 'check' ? ' check' : ''}`;
    wrap.dataset.key = f.key;
    const id = `f-${f.key}`;
    let input: HTMLInputElement | HTMLSelectElement;
    if (f.type === 'select') {
      input = document.createElement('select');
      for (const o of f.options) input.append(new Option(o, o));
    } else {
      input = document.createElement('input');
      input.type = f.type === 'check' ? 'checkbox' : 'number';
      if (f.type === 'number') {
        const limits = LIMITS[f.key as keyof typeof LIMITS];
        if (limits) {
          input.min = String(limits[0]);
          input.max = String(limits[1]);
        }
        input.step = '1';
        input.inputMode = 'numeric';
      }
    }
    input.id = id;
    input.name = f.key;
    const label = document.createElement('label');
    label.htmlFor = id;
    label.textContent = f.label;
    const error = document.createElement('p');
    error.className = 'error';
    error.id = `${id}-error`;
    error.hidden = true;
    input.setAttribute('aria-describedby', error.id);
    if (f.type === 'check') wrap.append(input, label, error);
    else wrap.append(label, input, error);
    form.append(wrap);
    input.addEventListener('input', onFormChange);
    input.addEventListener('change', onFormChange);
  }
  form.addEventListener('submit', (e) => e.preventDefault());
}

function writeForm(c: Config): void {
  for (const f of FIELDS) {
    const input = $<HTMLInputElement>(`f-${f.key}`);
    if (f.type === 'check') input.checked = Boolean(c[f.key]);
    else input.value = String(c[f.key]);
  }
}

function readForm(): Config {
  const c = { ...config } as Record<string, unknown>;
  for (const f of FIELDS) {
    const input = $<HTMLInputElement>(`f-${f.key}`);
    if (f.type === 'check') c[f.key] = input.checked;
    else if (f.type === 'number') c[f.key] = input.value.trim() === '' ? Number.NaN : Number(input.value);
    else c[f.key] = input.value;
  }
  return c as unknown as Config;
}

function onFormChange(): void {
  config = readForm();
  refresh();
}

function refresh(): void {
  const errors = validate(config);
  for (const f of FIELDS) {
    const wrap = document.querySelector<HTMLElement>(`.field[data-key='${f.key}']`)!;
    const input = $<HTMLInputElement>(`f-${f.key}`);
    const on = applies(f.key, config);
    input.disabled = !on;
    wrap.setAttribute('aria-disabled', String(!on));
    const message = errors[f.key];
    const el = $(`f-${f.key}-error`);
    el.hidden = !message;
    el.textContent = message ? `${f.label} ${message}` : '';
    input.setAttribute('aria-invalid', String(Boolean(message)));
  }
  const work = $('work-error');
  work.hidden = !errors.work;
  work.textContent = errors.work ?? '';
  const valid = Object.keys(errors).length === 0;
  for (const id of ['run-button', 'compare-button', 'bench-button']) $<HTMLButtonElement>(id).disabled = !valid || busy;
  if (!valid) return;
  lastValid = { ...config };
  drawDiagram($('diagram') as unknown as SVGSVGElement, lastValid);
  renderShapes(lastValid);
  $('recur-code').textContent = recurCode(lastValid);
  $('torch-code').textContent = torchCode(lastValid);
}

function renderShapes(c: Config): void {
  const s = shapesOf(c);
  // [id for tests and styling, label, shape]
  const items: Array<[string, string, number[] | null]> = isCell(c.kind)
    ? [['input', 'input (all steps)', s.input], ['step', 'x_t', s.step], ['h_next', "h'", s.hN], ['c_next', "c'", s.cN]]
    : [['input', 'input', s.input], ['output', 'output', s.output], ['h_n', 'h_n', s.hN], ['c_n', 'c_n', s.cN]];
  $('shapes').replaceChildren(
    ...items
      .filter(([, , shape]) => shape)
      .map(([id, name, shape]) => {
        return html('li', { 'data-tensor': id }, `${name} `, html('code', {}, fmt(shape!)));
      }),
  );
}

// ---------------------------------------------------------------- run
let busy = false;
let weights: StateDictPayload | null = null;

function setBusy(b: boolean): void {
  busy = b;
  refresh();
}

function pastedInput(c: Config): Float32Array | null {
  const text = $<HTMLTextAreaElement>('input-values').value.trim();
  const err = $('input-error');
  err.hidden = true;
  if (!text) return null;
  const expected = shapesOf(c).input;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`the pasted input is not valid JSON; expected a nested array of shape ${fmt(expected)}`);
  }
  const flat: number[] = [];
  const shape: number[] = [];
  const walk = (v: unknown, depth: number): void => {
    if (Array.isArray(v)) {
      if (shape[depth] === undefined) shape[depth] = v.length;
      else if (shape[depth] !== v.length) throw new Error(`the pasted input is ragged at depth ${depth}`);
      for (const w of v) walk(w, depth + 1);
    } else if (typeof v === 'number' && Number.isFinite(v)) flat.push(v);
    else throw new Error(`the pasted input holds ${JSON.stringify(v)}, expected numbers only`);
  };
  walk(parsed, 0);
  if (shape.length !== expected.length || shape.some((d, i) => d !== expected[i])) {
    throw new Error(`the pasted input has shape ${fmt(shape)}, expected ${fmt(expected)} for this configuration`);
  }
  return Float32Array.from(flat);
}

/** The pasted input for `c`, null for a seeded one, or undefined after explaining why it is unusable. */
function readPasted(c: Config): Float32Array | null | undefined {
  try {
    return pastedInput(c);
  } catch (error) {
    const err = $('input-error');
    err.hidden = false;
    err.textContent = (error as Error).message;
    return undefined;
  }
}

async function run(): Promise<void> {
  const c = { ...lastValid };
  const status = $('run-status');
  const input = readPasted(c);
  if (input === undefined) return;
  setBusy(true);
  status.className = '';
  status.textContent = `Running ${c.kind} on ${$<HTMLSelectElement>('backend').value}…`;
  const r = await ask({ type: 'run', config: c, backend: $<HTMLSelectElement>('backend').value, input, weights });
  setBusy(false);
  if (r.type === 'error') return showError(status, `Could not run: ${r.message}`);
  if (r.type !== 'result') return;
  status.textContent = `${c.kind} forward on ${r.result.backend}: ${r.result.ms.toFixed(2)} ms${weights ? ' (loaded weights)' : ` (seeded weights, seed ${c.seed})`}`;
  status.dataset.backend = r.result.backend;
  showResult(c, r.result);
}

async function compare(): Promise<void> {
  const c = { ...lastValid };
  const status = $('run-status');
  const input = readPasted(c);
  if (input === undefined) return;
  setBusy(true);
  status.textContent = 'Running on js and on wasm…';
  const r = await ask({ type: 'compare', config: c, input, weights });
  setBusy(false);
  if (r.type === 'error') return showError(status, `Could not compare: ${r.message}`);
  if (r.type !== 'compared') return;
  status.className = r.maxAbsDiff < 1e-4 ? 'ok' : 'bad';
  status.dataset.maxAbsDiff = String(r.maxAbsDiff);
  status.textContent = `js ${r.js.ms.toFixed(2)} ms, wasm ${r.wasm.ms.toFixed(2)} ms; max |js − wasm| over output and h_n = ${r.maxAbsDiff.toExponential(2)}`;
  showResult(c, r.wasm);
}

/** Rows of `[T, B, F]` (time-major) for batch entry b as `[T, F]`. */
function series(values: Float32Array, T: number, B: number, F: number, b: number, batchFirst: boolean): Float32Array {
  const out = new Float32Array(T * F);
  for (let t = 0; t < T; t++) {
    const at = (batchFirst ? b * T + t : t * B + b) * F;
    out.set(values.subarray(at, at + F), t * F);
  }
  return out;
}

function close(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function showResult(c: Config, r: RunResult): void {
  const T = c.seqLen;
  const B = c.batch;
  const cell = isCell(c.kind);
  const D = numDirections(c);
  const P = cell ? c.hiddenSize : outputSize(c);
  const F = D * P;
  const L = numLayers(c);
  const bf = !cell && c.batchFirst;
  const figures: HTMLElement[] = [];
  const add = (caption: string, values: Float32Array, steps: number, units: number) => {
    const fig = document.createElement('figure');
    const canvas = document.createElement('canvas');
    drawHeatmap(canvas, { values, steps, units }, caption);
    const cap = document.createElement('figcaption');
    cap.textContent = caption;
    fig.append(canvas, cap);
    figures.push(fig);
  };
  add(`output over time (batch 0): ${T} steps × ${F} units`, series(r.out, T, B, F, 0, bf), T, F);
  if (cell) add("h' (batch 0)", r.hN.slice(0, P), 1, P);
  else add(`h_n (batch 0): ${L * D} layer×direction columns`, series(r.hN, L * D, B, P, 0, false), L * D, P);
  if (r.cN) add(cell ? "c' (batch 0)" : 'c_n (batch 0)', cell ? r.cN.slice(0, c.hiddenSize) : series(r.cN, L * D, B, c.hiddenSize, 0, false), cell ? 1 : L * D, c.hiddenSize);
  $('heatmaps').replaceChildren(...figures);

  // PyTorch's identities, checked on the numbers.
  const checks: HTMLLIElement[] = [];
  const check = (ok: boolean, identity: string | null, text: string) =>
    checks.push(html('li', { class: ok ? 'ok' : 'bad', ...(identity ? { 'data-identity': identity } : {}) }, text));
  const outAt = (t: number, from: number, n: number) => {
    const rows = new Float32Array(B * n);
    for (let b = 0; b < B; b++) {
      const at = (bf ? b * T + t : t * B + b) * F + from;
      rows.set(r.out.subarray(at, at + n), b * n);
    }
    return rows;
  };
  const hAt = (idx: number) => r.hN.subarray(idx * B * P, (idx + 1) * B * P);
  if (cell) {
    const d = close(outAt(T - 1, 0, P), r.hN);
    check(d === 0, null, `h after the last step == h' (max diff ${d})`);
  } else {
    const fwd = close(outAt(T - 1, 0, P), hAt(L * D - D));
    check(fwd === 0, 'forward', `out[-1, :, :${P}] == h_n[${L * D - D}]${D === 1 ? ' (= h_n[-1])' : ' (= h_n[-2])'}: max diff ${fwd}`);
    if (D === 2) {
      const rev = close(outAt(0, P, P), hAt(L * D - 1));
      const notLast = close(outAt(T - 1, P, P), hAt(L * D - 1));
      check(rev === 0, 'reverse', `out[0, :, ${P}:] == h_n[-1]: max diff ${rev}`);
      checks.push(
        html('li', { class: 'muted' }, `out[-1, :, ${P}:] vs h_n[-1]: max diff ${notLast.toExponential(2)} — the reverse direction ends at step 0, so out[-1] == h_n[-1] does not hold here`),
      );
    }
  }
  $('identities').replaceChildren(html('ul', {}, ...checks));
}

// ---------------------------------------------------------------- weights
async function loadFile(file: File): Promise<void> {
  const status = $('weights-status');
  const detail = $('weights-detail');
  detail.replaceChildren();
  weights = null;
  let read: SafetensorsFile;
  try {
    read = readSafetensors(new Uint8Array(await file.arrayBuffer()));
  } catch (error) {
    return showError(status, `${file.name} could not be read as safetensors: ${(error as Error).message}`);
  }
  const { tensors, metadata } = read;
  const info = inspect(tensors);
  detail.append(...metadataList(metadata), keysTable(info.keys));
  if (!info.inferred) return showError(status, `${file.name}: ${info.problem}`);
  const payload: StateDictPayload = {};
  for (const [k, t] of Object.entries(tensors)) payload[k] = { shape: [...t.shape], data: t.dataSync() };
  weights = payload;
  config = { ...config, ...info.inferred, projSize: info.inferred.projSize ?? 0 } as Config;
  writeForm(config);
  refresh();
  status.className = 'ok';
  status.textContent = `${file.name}: ${info.keys.length} tensors, a ${describeInferred(info.inferred)}. The form now matches it; Run uses these weights.`;
  const clear = document.createElement('button');
  clear.type = 'button';
  clear.textContent = 'Forget these weights';
  clear.addEventListener('click', () => {
    weights = null;
    status.className = '';
    status.textContent = 'Using seeded weights again.';
    detail.replaceChildren();
  });
  detail.append(clear);
}

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

function setUpDrop(): void {
  const drop = $('drop');
  const file = $<HTMLInputElement>('file');
  file.addEventListener('change', () => {
    if (file.files?.[0]) void loadFile(file.files[0]);
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
    if (f) void loadFile(f);
  });
}

// ---------------------------------------------------------------- benchmark
async function bench(): Promise<void> {
  const c = { ...lastValid };
  const lengths = [25, 50, 100, 200].filter((T) => Object.keys(validate({ ...c, seqLen: T })).length === 0);
  const backends = [...$<HTMLSelectElement>('backend').options].map((o) => o.value);
  const progress = $<HTMLProgressElement>('bench-progress');
  const label = $('bench-label');
  progress.hidden = false;
  progress.value = 0;
  setBusy(true);
  const r = await ask({ type: 'bench', config: c, lengths, backends }, (p) => {
    if (p.type !== 'progress') return;
    progress.value = p.done / p.total;
    label.textContent = `${p.done} / ${p.total}: ${p.label}`;
  });
  setBusy(false);
  progress.hidden = true;
  if (r.type === 'error') return showError(label, `Benchmark failed: ${r.message}`);
  if (r.type !== 'bench') return;
  label.textContent = `${c.kind}(${c.inputSize}, ${c.hiddenSize}), batch ${c.batch}: median of 3 runs per point`;
  drawChart(r.points);
}

function drawChart(points: Array<{ backend: string; seqLen: number; ms: number }>): void {
  const chart = $('bench-chart') as unknown as SVGSVGElement;
  const W = 640;
  const H = 240;
  const pad = { l: 56, r: 170, t: 12, b: 36 };
  chart.setAttribute('viewBox', `0 0 ${W} ${H}`);
  const maxT = Math.max(...points.map((p) => p.seqLen));
  const maxMs = Math.max(...points.map((p) => p.ms)) * 1.1 || 1;
  const x = (t: number) => pad.l + (t / maxT) * (W - pad.l - pad.r);
  const y = (ms: number) => H - pad.b - (ms / maxMs) * (H - pad.t - pad.b);
  const colors: Record<string, string> = { wasm: '#d9480f', js: '#1c7ed6' };
  const parts: SVGElement[] = [
    svg('line', { class: 'axis', x1: pad.l, y1: H - pad.b, x2: W - pad.r, y2: H - pad.b }),
    svg('line', { class: 'axis', x1: pad.l, y1: pad.t, x2: pad.l, y2: H - pad.b }),
    svg('text', { x: (W - pad.r + pad.l) / 2, y: H - 6, 'text-anchor': 'middle' }, 'sequence length T'),
    svg('text', { x: 12, y: pad.t + 10 }, 'ms'),
    svg('text', { x: pad.l - 6, y: y(maxMs / 1.1) + 4, 'text-anchor': 'end' }, (maxMs / 1.1).toPrecision(2)),
    svg('text', { x: pad.l - 6, y: H - pad.b + 4, 'text-anchor': 'end' }, '0'),
  ];
  let legend = 0;
  for (const backend of [...new Set(points.map((p) => p.backend))]) {
    const ps = points.filter((p) => p.backend === backend);
    const color = colors[backend] ?? '#495057';
    parts.push(svg('polyline', { fill: 'none', stroke: color, 'stroke-width': 2, points: ps.map((p) => `${x(p.seqLen)},${y(p.ms)}`).join(' ') }));
    for (const p of ps) {
      parts.push(
        svg('circle', { cx: x(p.seqLen), cy: y(p.ms), r: 3, fill: color }, svg('title', {}, `${backend}, T=${p.seqLen}: ${p.ms.toFixed(2)} ms`)),
        svg('text', { x: x(p.seqLen), y: H - pad.b + 14, 'text-anchor': 'middle' }, String(p.seqLen)),
      );
    }
    const lastP = ps[ps.length - 1]!;
    parts.push(svg('text', { x: W - pad.r + 8, y: pad.t + 14 + 16 * legend++, fill: color }, `${backend}: ${lastP.ms.toPrecision(3)} ms at T=${lastP.seqLen}`));
  }
  chart.replaceChildren(...parts);
  chart.setAttribute('aria-label', `Time per forward against sequence length: ${points.map((p) => `${p.backend} T=${p.seqLen} ${p.ms.toFixed(1)} ms`).join(', ')}`);
}

// ---------------------------------------------------------------- start
async function start(): Promise<void> {
  buildForm();
  writeForm(config);
  refresh();
  setUpDrop();
  $('run-button').addEventListener('click', () => void run());
  $('compare-button').addEventListener('click', () => void compare());
  $('bench-button').addEventListener('click', () => void bench());
  for (const b of document.querySelectorAll<HTMLButtonElement>('button[data-copy]')) {
    b.addEventListener('click', () => {
      void navigator.clipboard?.writeText($(b.dataset.copy!).textContent ?? '').then(
        () => (b.textContent = 'Copied'),
        () => (b.textContent = 'Select and copy'),
      );
    });
  }
  const r = await ask({ type: 'init' });
  if (r.type !== 'ready') return;
  const select = $<HTMLSelectElement>('backend');
  for (const name of r.backends) {
    const o = new Option(name + (r.unavailable[name] ? ' (unavailable)' : ''), name);
    o.disabled = Boolean(r.unavailable[name]);
    select.append(o);
  }
  select.value = r.chosen;
  const reasons = Object.entries(r.unavailable).map(([n, why]) => `${n}: ${why}`);
  const variant = r.wasmVariant ? ` (wasm kernels: ${r.wasmVariant})` : '';
  $('backend-status').textContent = `ready() chose ${r.chosen}${variant}${reasons.length ? `; ${reasons.join('; ')}` : ''}`;
  document.body.dataset.ready = 'true';
  if ('serviceWorker' in navigator && location.protocol !== 'file:') {
    navigator.serviceWorker.register('./sw.js').catch(() => {
      // Offline support is optional; the page works without it.
    });
  }
}

void start();
