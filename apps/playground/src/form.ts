// The configuration form: one field per option, read on every change, each problem explained next to
// its field, and the last valid configuration handed on to be drawn and run.

import { type Config, DEFAULT_CONFIG, LIMITS, applies, validate } from './config.js';
import { byId, html } from './dom.js';

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

/** The buttons that need a valid configuration and an idle worker. */
const ACTIONS = ['run-button', 'compare-button', 'bench-button'];

export interface Form {
  /** The last configuration without problems: what runs, comparisons and the benchmark use. */
  lastValid(): Config;
  /** Sets some options (as loaded weights imply them), shows them in the form and redraws. */
  update(options: Partial<Config>): void;
  /** Keeps the action buttons disabled while `work` is under way. */
  whileBusy<T>(work: () => Promise<T>): Promise<T>;
}

function buildField(f: FieldSpec, onChange: () => void): HTMLElement {
  const id = `f-${f.key}`;
  let input: HTMLInputElement | HTMLSelectElement;
  if (f.type === 'select') {
    input = html('select');
    for (const o of f.options) input.append(new Option(o, o));
  } else {
    input = html('input', { type: f.type === 'check' ? 'checkbox' : 'number' });
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
  const label = html('label', { for: id }, f.label);
  const error = html('p', { class: 'error', id: `${id}-error` });
  error.hidden = true;
  input.setAttribute('aria-describedby', error.id);
  input.addEventListener('input', onChange);
  input.addEventListener('change', onChange);
  const wrap = html('div', { class: `field${f.type === 'check' ? ' check' : ''}`, 'data-key': f.key });
  if (f.type === 'check') wrap.append(input, label, error);
  else wrap.append(label, input, error);
  return wrap;
}

function writeForm(c: Config): void {
  for (const f of FIELDS) {
    const input = byId<HTMLInputElement>(`f-${f.key}`);
    if (f.type === 'check') input.checked = Boolean(c[f.key]);
    else input.value = String(c[f.key]);
  }
}

function readForm(previous: Config): Config {
  const c = { ...previous } as Record<string, unknown>;
  for (const f of FIELDS) {
    const input = byId<HTMLInputElement>(`f-${f.key}`);
    if (f.type === 'check') c[f.key] = input.checked;
    else if (f.type === 'number') c[f.key] = input.value.trim() === '' ? Number.NaN : Number(input.value);
    else c[f.key] = input.value;
  }
  return c as unknown as Config;
}

/** Shows each problem next to its field; true when there are none. */
function showProblems(c: Config): boolean {
  const errors = validate(c);
  for (const f of FIELDS) {
    const wrap = document.querySelector<HTMLElement>(`.field[data-key='${f.key}']`)!;
    const input = byId<HTMLInputElement>(`f-${f.key}`);
    const on = applies(f.key, c);
    input.disabled = !on;
    wrap.setAttribute('aria-disabled', String(!on));
    const message = errors[f.key];
    const el = byId(`f-${f.key}-error`);
    el.hidden = !message;
    el.textContent = message ? `${f.label} ${message}` : '';
    input.setAttribute('aria-invalid', String(Boolean(message)));
  }
  const work = byId('work-error');
  work.hidden = !errors.work;
  work.textContent = errors.work ?? '';
  return Object.keys(errors).length === 0;
}

/** Builds the form in `#form` with the default configuration; `onValid` draws each valid one. */
export function createForm(onValid: (c: Config) => void): Form {
  let config: Config = { ...DEFAULT_CONFIG };
  let lastValid: Config = { ...config };
  let busy = false;

  const refresh = () => {
    const valid = showProblems(config);
    for (const id of ACTIONS) byId<HTMLButtonElement>(id).disabled = !valid || busy;
    if (!valid) return;
    lastValid = { ...config };
    onValid(lastValid);
  };
  const setBusy = (b: boolean) => {
    busy = b;
    refresh();
  };

  const form = byId<HTMLFormElement>('form');
  const onChange = () => {
    config = readForm(config);
    refresh();
  };
  form.append(...FIELDS.map((f) => buildField(f, onChange)));
  form.addEventListener('submit', (e) => e.preventDefault());
  writeForm(config);
  refresh();

  return {
    lastValid: () => ({ ...lastValid }),
    update(options) {
      config = { ...config, ...options };
      writeForm(config);
      refresh();
    },
    async whileBusy(work) {
      setBusy(true);
      try {
        return await work();
      } finally {
        setBusy(false);
      }
    },
  };
}
