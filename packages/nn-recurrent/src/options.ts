// Constructor arguments of the modules: PyTorch's positional form or an options object, with
// PyTorch's defaults and PyTorch's checks (messages name the module, the option and both values).

import {
  ArgumentError,
  RangeArgumentError,
  type RecurrentLayout,
  checkElements,
  describeValue,
  recurrentParameters,
} from '@recur/core-tensor';

/** The activation of `RNN` and `RNNCell`, as PyTorch's `nonlinearity`. */
export type Nonlinearity = 'tanh' | 'relu';

/**
 * Options of `RNN`, `LSTM` and `GRU`; each takes the subset PyTorch's constructor takes.
 * @example
 * new LSTM({ inputSize: 50, hiddenSize: 100, numLayers: 2, batchFirst: true, dropout: 0.1 });
 * new RNN(5, 10, 2, { nonlinearity: 'relu' }); // positional, then the options
 */
export interface RecurrentOptions {
  inputSize: number;
  hiddenSize: number;
  /** Stacked layers; default 1. */
  numLayers?: number;
  /** `RNN` only: 'tanh' (default) or 'relu'. */
  nonlinearity?: Nonlinearity;
  /** Learn `bias_ih` and `bias_hh`; default true. */
  bias?: boolean;
  /** Input and output as `[B, T, F]` instead of `[T, B, F]`; never applies to `h`/`c`. Default false. */
  batchFirst?: boolean;
  /** Dropout on the outputs of each layer but the last, in training mode only; default 0. */
  dropout?: number;
  /** Run a reverse direction too and concatenate (forward then reverse); default false. */
  bidirectional?: boolean;
  /** `LSTM` only: project `h` to this size (`weight_hr`); default 0 (no projection). */
  projSize?: number;
  /** Seed for the default initialisation and the dropout masks; random when omitted. */
  seed?: number;
}

/**
 * Options of `RNNCell`, `LSTMCell` and `GRUCell`.
 * @example
 * new GRUCell({ inputSize: 4, hiddenSize: 8, bias: false, seed: 0 });
 */
export interface CellOptions {
  inputSize: number;
  hiddenSize: number;
  bias?: boolean;
  /** `RNNCell` only. */
  nonlinearity?: Nonlinearity;
  seed?: number;
}

export type RecurrentArgs =
  | [options: RecurrentOptions]
  | [inputSize: number, hiddenSize: number, options?: Partial<RecurrentOptions>]
  | [inputSize: number, hiddenSize: number, numLayers: number, options?: Partial<RecurrentOptions>];

export type CellArgs =
  | [options: CellOptions]
  | [inputSize: number, hiddenSize: number, options?: Partial<CellOptions>];

export interface ResolvedRecurrentOptions {
  inputSize: number;
  hiddenSize: number;
  numLayers: number;
  nonlinearity: Nonlinearity;
  bias: boolean;
  batchFirst: boolean;
  dropout: number;
  bidirectional: boolean;
  projSize: number;
  seed: number | undefined;
}

type Kind = 'RNN' | 'LSTM' | 'GRU' | 'RNNCell' | 'LSTMCell' | 'GRUCell';

function merge<T extends object>(kind: Kind, args: unknown[]): Partial<T> {
  const [a, b, c, d] = args;
  if (typeof a === 'object' && a !== null) {
    if (args.length > 1) throw new ArgumentError(`${kind}: an options object must be the only argument, got ${args.length} arguments`);
    return { ...(a as T) };
  }
  if (typeof a !== 'number' || typeof b !== 'number') {
    throw new ArgumentError(
      `${kind}: expected (inputSize, hiddenSize, ...) or an options object, got (${args.map((v) => describeValue(v)).join(', ')})`,
    );
  }
  const opts = (typeof c === 'object' && c !== null ? c : d) ?? {};
  if (typeof opts !== 'object') throw new ArgumentError(`${kind}: expected an options object, got ${describeValue(opts)}`);
  const merged: Record<string, unknown> = { ...(opts as object), inputSize: a, hiddenSize: b };
  if (typeof c === 'number') merged.numLayers = c;
  else if (c !== undefined && (typeof c !== 'object' || c === null)) {
    throw new ArgumentError(`${kind}: expected numLayers as a number or an options object, got ${describeValue(c)}`);
  }
  return merged as Partial<T>;
}

function positiveInt(kind: Kind, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new RangeArgumentError(`${kind}: ${name} must be an integer greater than zero, got ${describeValue(v)}`);
  }
  return v;
}

function bool(kind: Kind, name: string, v: unknown, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') throw new ArgumentError(`${kind}: ${name} must be a boolean, got ${describeValue(v)}`);
  return v;
}

function nonlinearity(kind: Kind, v: unknown): Nonlinearity {
  if (v === undefined) return 'tanh';
  if (v !== 'tanh' && v !== 'relu') {
    throw new RangeArgumentError(`${kind}: unknown nonlinearity ${typeof v === 'string' && v.length <= 40 ? `'${v}'` : describeValue(v)}; select from 'tanh' or 'relu'`);
  }
  return v;
}

function seed(kind: Kind, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ArgumentError(`${kind}: seed must be a finite number, got ${describeValue(v)}`);
  return v;
}

const RECURRENT_KEYS = new Set([
  'inputSize', 'hiddenSize', 'numLayers', 'nonlinearity', 'bias', 'batchFirst', 'dropout', 'bidirectional', 'projSize', 'seed',
]);
const CELL_KEYS = new Set(['inputSize', 'hiddenSize', 'bias', 'nonlinearity', 'seed']);

function rejectUnknown(kind: Kind, opts: object, allowed: Set<string>): void {
  for (const key of Object.keys(opts)) {
    if (!allowed.has(key)) {
      throw new ArgumentError(`${kind}: unknown option '${key}'; expected one of ${[...allowed].join(', ')}`);
    }
  }
}

/**
 * Refuses sizes whose parameters no machine can hold, before anything is allocated: the count comes
 * from the layout's shapes (layers past the second repeat the second's), so `numLayers: 1e9` costs
 * two layers of arithmetic, not a billion.
 */
function checkParameterCount(kind: Kind, layout: RecurrentLayout): void {
  const L = layout.numLayers ?? 1;
  const perLayer = [0, 0];
  for (const p of recurrentParameters({ ...layout, numLayers: Math.min(L, 2) })) {
    perLayer[p.layer]! += p.shape.reduce((a, b) => a * b, 1);
  }
  const total = perLayer[0]! + (L - 1) * perLayer[1]!;
  const sizes = [`inputSize ${layout.inputSize}`, `hiddenSize ${layout.hiddenSize}`];
  if (!layout.cell) sizes.push(`numLayers ${L}`);
  if (layout.bidirectional) sizes.push('bidirectional');
  if (layout.projSize) sizes.push(`projSize ${layout.projSize}`);
  checkElements(kind, `the parameters of ${sizes.join(', ')}`, total);
}

export function resolveRecurrentOptions(kind: 'RNN' | 'LSTM' | 'GRU', args: unknown[]): ResolvedRecurrentOptions {
  const o = merge<RecurrentOptions>(kind, args);
  rejectUnknown(kind, o, RECURRENT_KEYS);
  if (kind !== 'RNN' && o.nonlinearity !== undefined) {
    throw new ArgumentError(`${kind}: nonlinearity is an option of RNN only, got ${describeValue(o.nonlinearity)}`);
  }
  const inputSize = positiveInt(kind, 'inputSize', o.inputSize);
  const hiddenSize = positiveInt(kind, 'hiddenSize', o.hiddenSize);
  const numLayers = positiveInt(kind, 'numLayers', o.numLayers ?? 1);
  const dropout = o.dropout ?? 0;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout <= 1)) {
    throw new RangeArgumentError(
      `${kind}: dropout should be a number in range [0, 1] representing the probability of an element being zeroed, got ${describeValue(dropout)}`,
    );
  }
  const projSize = o.projSize ?? 0;
  if (typeof projSize !== 'number' || !Number.isInteger(projSize) || projSize < 0) {
    throw new RangeArgumentError(`${kind}: projSize should be a positive integer or zero to disable projections, got ${describeValue(projSize)}`);
  }
  if (projSize > 0 && kind !== 'LSTM') {
    throw new RangeArgumentError(`${kind}: projSize is only supported for LSTM, not RNN or GRU (got projSize ${projSize})`);
  }
  if (projSize >= hiddenSize && projSize > 0) {
    throw new RangeArgumentError(`${kind}: projSize has to be smaller than hiddenSize, got projSize ${projSize} and hiddenSize ${hiddenSize}`);
  }
  const resolved: ResolvedRecurrentOptions = {
    inputSize,
    hiddenSize,
    numLayers,
    nonlinearity: nonlinearity(kind, o.nonlinearity),
    bias: bool(kind, 'bias', o.bias, true),
    batchFirst: bool(kind, 'batchFirst', o.batchFirst, false),
    dropout,
    bidirectional: bool(kind, 'bidirectional', o.bidirectional, false),
    projSize,
    seed: seed(kind, o.seed),
  };
  const mode = kind === 'LSTM' ? 'lstm' : kind === 'GRU' ? 'gru' : 'rnn_tanh';
  checkParameterCount(kind, { mode, ...resolved });
  return resolved;
}

export function resolveCellOptions(
  kind: 'RNNCell' | 'LSTMCell' | 'GRUCell',
  args: unknown[],
): { inputSize: number; hiddenSize: number; bias: boolean; nonlinearity: Nonlinearity; seed: number | undefined } {
  const o = merge<CellOptions>(kind, args);
  rejectUnknown(kind, o, CELL_KEYS);
  if (kind !== 'RNNCell' && o.nonlinearity !== undefined) {
    throw new ArgumentError(`${kind}: nonlinearity is an option of RNNCell only, got ${describeValue(o.nonlinearity)}`);
  }
  const resolved = {
    inputSize: positiveInt(kind, 'inputSize', o.inputSize),
    hiddenSize: positiveInt(kind, 'hiddenSize', o.hiddenSize),
    bias: bool(kind, 'bias', o.bias, true),
    nonlinearity: nonlinearity(kind, o.nonlinearity),
    seed: seed(kind, o.seed),
  };
  const mode = kind === 'LSTMCell' ? 'lstm' : kind === 'GRUCell' ? 'gru' : 'rnn_tanh';
  checkParameterCount(kind, { mode, cell: true, ...resolved });
  return resolved;
}
