// Reading a dropped .safetensors file: list its keys and shapes, infer the configuration a PyTorch
// RNN/LSTM/GRU (or cell) state dict implies (core-tensor's one description of PyTorch's layout), and
// say in plain words what does not fit.

import { type Tensor, inferRecurrentLayout } from '@recur/core-tensor';
import type { Config, ModuleKind } from './config.js';

export interface Inspection {
  keys: Array<{ name: string; shape: readonly number[] }>;
  /** The configuration the keys imply, or null with the reason in `problem`. */
  inferred: Partial<Config> | null;
  problem: string | null;
}

const KINDS = { lstm: 'LSTM', gru: 'GRU', rnn_tanh: 'RNN', rnn_relu: 'RNN' } as const;

export function inspect(tensors: Record<string, Tensor>): Inspection {
  const keys = Object.entries(tensors).map(([name, t]) => ({ name, shape: t.shape }));
  const { layout, problem } = inferRecurrentLayout(Object.fromEntries(keys.map((k) => [k.name, k.shape])));
  if (!layout) return { keys, inferred: null, problem: problem.replace('the state dict holds', 'the file holds') };
  const kind = `${KINDS[layout.mode]}${layout.cell ? 'Cell' : ''}` as ModuleKind;
  const inferred: Partial<Config> = {
    kind,
    inputSize: layout.inputSize,
    hiddenSize: layout.hiddenSize,
    bias: layout.bias ?? true,
    ...(layout.cell
      ? {}
      : { numLayers: layout.numLayers ?? 1, bidirectional: layout.bidirectional ?? false, projSize: layout.projSize ?? 0 }),
  };
  return { keys, inferred, problem: null };
}
