// Reading a dropped .safetensors file: list its keys and shapes, infer the configuration a PyTorch
// RNN/LSTM/GRU (or cell) state dict implies, and say in plain words what does not fit.

import type { Tensor } from '@recur/core-tensor';
import type { Config, ModuleKind } from './config.js';

export interface Inspection {
  keys: Array<{ name: string; shape: readonly number[] }>;
  /** The configuration the keys imply, or null with the reason in `problem`. */
  inferred: Partial<Config> | null;
  problem: string | null;
}

const LAYER_KEY = /^(weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)_l(\d+)(_reverse)?$/;
const CELL_KEY = /^(weight_ih|weight_hh|bias_ih|bias_hh)$/;

export function inspect(tensors: Record<string, Tensor>): Inspection {
  const keys = Object.entries(tensors).map(([name, t]) => ({ name, shape: t.shape }));
  const fail = (problem: string): Inspection => ({ keys, inferred: null, problem });
  if (keys.length === 0) return fail('the file holds no tensors');
  const names = keys.map((k) => k.name);
  const stray = names.filter((n) => !LAYER_KEY.test(n) && !CELL_KEY.test(n));
  if (stray.length) {
    return fail(
      `these keys are not an RNN/LSTM/GRU state dict: ${stray.slice(0, 5).join(', ')}${stray.length > 5 ? ', …' : ''} (save the recurrent module's own state_dict(), or strip the prefix)`,
    );
  }
  const isCellDict = names.every((n) => CELL_KEY.test(n));
  const wih = tensors[isCellDict ? 'weight_ih' : 'weight_ih_l0'];
  const whh = tensors[isCellDict ? 'weight_hh' : 'weight_hh_l0'];
  if (!wih || !whh) return fail(`missing ${isCellDict ? 'weight_ih / weight_hh' : 'weight_ih_l0 / weight_hh_l0'}`);
  if (wih.shape.length !== 2 || whh.shape.length !== 2) return fail('weight_ih and weight_hh must be 2-D matrices');
  const [rows, inputSize] = wih.shape as [number, number];
  const hhCols = whh.shape[1]!;
  const hr = tensors.weight_hr_l0;
  const hiddenSize = hr ? hr.shape[1]! : hhCols;
  const gates = rows / hiddenSize;
  if (![1, 3, 4].includes(gates) || !Number.isInteger(gates)) {
    return fail(`weight_ih has ${rows} rows for a hidden size of ${hiddenSize}: not 1 (RNN), 3 (GRU) or 4 (LSTM) gates`);
  }
  const base = gates === 4 ? 'LSTM' : gates === 3 ? 'GRU' : 'RNN';
  const kind = (isCellDict ? `${base}Cell` : base) as ModuleKind;
  let numLayers = 1;
  let bidirectional = false;
  for (const n of names) {
    const m = LAYER_KEY.exec(n);
    if (m) {
      numLayers = Math.max(numLayers, Number(m[2]) + 1);
      if (m[3]) bidirectional = true;
    }
  }
  const inferred: Partial<Config> = {
    kind,
    inputSize,
    hiddenSize,
    bias: names.some((n) => n.startsWith('bias_')),
    ...(isCellDict ? {} : { numLayers, bidirectional, projSize: hr ? hr.shape[0]! : 0 }),
  };
  return { keys, inferred, problem: null };
}
