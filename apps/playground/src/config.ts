// The playground's configuration: what the form holds, its limits, and the PyTorch shapes it implies.

import { gateCount as coreGateCount } from '@recur/core-tensor';

export type ModuleKind = 'RNN' | 'LSTM' | 'GRU' | 'RNNCell' | 'LSTMCell' | 'GRUCell';

export interface Config {
  kind: ModuleKind;
  inputSize: number;
  hiddenSize: number;
  numLayers: number;
  bidirectional: boolean;
  batchFirst: boolean;
  projSize: number;
  nonlinearity: 'tanh' | 'relu';
  bias: boolean;
  seqLen: number;
  batch: number;
  seed: number;
}

export const DEFAULT_CONFIG: Config = {
  kind: 'LSTM',
  inputSize: 5,
  hiddenSize: 10,
  numLayers: 2,
  bidirectional: true,
  batchFirst: false,
  projSize: 0,
  nonlinearity: 'tanh',
  bias: true,
  seqLen: 6,
  batch: 3,
  seed: 0,
};

export const LIMITS = {
  inputSize: [1, 4096],
  hiddenSize: [1, 4096],
  numLayers: [1, 8],
  seqLen: [1, 2000],
  batch: [1, 512],
  projSize: [0, 4095],
  seed: [0, 2 ** 31 - 1],
} as const;

/** Work above this many floating-point operations per forward is refused, so the tab never freezes. */
export const MAX_FLOPS = 4e9;

export const isCell = (k: ModuleKind) => k.endsWith('Cell');
const MODES = { LSTM: 'lstm', GRU: 'gru', RNN: 'rnn_tanh' } as const;
export const gateCount = (k: ModuleKind) => coreGateCount(MODES[layerKind(k)]);
export const layerKind = (k: ModuleKind) => k.replace('Cell', '') as 'RNN' | 'LSTM' | 'GRU';

export function numDirections(c: Config): number {
  return !isCell(c.kind) && c.bidirectional ? 2 : 1;
}

export function numLayers(c: Config): number {
  return isCell(c.kind) ? 1 : c.numLayers;
}

/** Size of h: projSize for a projected LSTM, else hiddenSize. */
export function outputSize(c: Config): number {
  return c.kind === 'LSTM' && c.projSize > 0 ? c.projSize : c.hiddenSize;
}

export function flopsOf(c: Config): number {
  const G = gateCount(c.kind);
  const D = numDirections(c);
  const H = c.hiddenSize;
  let total = 0;
  for (let l = 0; l < numLayers(c); l++) {
    const I = l === 0 ? c.inputSize : outputSize(c) * D;
    total += D * 2 * c.seqLen * c.batch * G * H * (I + outputSize(c));
  }
  return total;
}

/** Whether an option means anything for the selected module (others are disabled and ignored). */
export function applies(key: keyof Config, c: Config): boolean {
  switch (key) {
    case 'numLayers':
    case 'bidirectional':
    case 'batchFirst':
      return !isCell(c.kind);
    case 'projSize':
      return c.kind === 'LSTM';
    case 'nonlinearity':
      return c.kind === 'RNN' || c.kind === 'RNNCell';
    default:
      return true;
  }
}

/** Problems with a configuration, per field, in plain words; empty when it can run. */
export function validate(c: Config): Partial<Record<keyof Config | 'work', string>> {
  const errors: Partial<Record<keyof Config | 'work', string>> = {};
  for (const [key, [lo, hi]] of Object.entries(LIMITS) as Array<[keyof typeof LIMITS, readonly [number, number]]>) {
    if (!applies(key, c)) continue;
    const v = c[key];
    if (!Number.isFinite(v) || !Number.isInteger(v)) errors[key] = `must be a whole number, got ${String(v)}`;
    else if (v < lo) errors[key] = `must be at least ${lo}, got ${v}`;
    else if (v > hi) errors[key] = `must be at most ${hi} here, got ${v}`;
  }
  if (!errors.projSize && applies('projSize', c) && c.projSize > 0 && c.projSize >= c.hiddenSize) {
    errors.projSize = `must be smaller than hiddenSize (${c.hiddenSize})`;
  }
  if (Object.keys(errors).length === 0 && flopsOf(c) > MAX_FLOPS) {
    errors.work = `this needs ${(flopsOf(c) / 1e9).toFixed(1)} GFLOP per forward; the playground runs up to ${MAX_FLOPS / 1e9} GFLOP so the page stays responsive`;
  }
  return errors;
}

export interface Shapes {
  input: number[];
  output: number[];
  hN: number[];
  cN: number[] | null;
  /** Per-step input of a cell, `[B, I]`. */
  step: number[] | null;
}

export function shapesOf(c: Config): Shapes {
  const D = numDirections(c);
  const L = numLayers(c);
  const P = outputSize(c);
  const { seqLen: T, batch: B, inputSize: I, hiddenSize: H } = c;
  const lstm = c.kind === 'LSTM' || c.kind === 'LSTMCell';
  if (isCell(c.kind)) {
    return { input: [T, B, I], output: [T, B, H], hN: [B, H], cN: lstm ? [B, H] : null, step: [B, I] };
  }
  return {
    input: c.batchFirst ? [B, T, I] : [T, B, I],
    output: c.batchFirst ? [B, T, D * P] : [T, B, D * P],
    hN: [L * D, B, P],
    cN: lstm ? [L * D, B, H] : null,
    step: null,
  };
}

export const fmt = (shape: readonly number[]) => `[${shape.join(', ')}]`;
