// Builds the recur module a converted layer describes: the PyTorch configuration, then the weights
// in PyTorch's names and layout through loadStateDict (strict), in eval mode. Also the gate-block
// reordering every converter needs.

import { GRU, LSTM, RNN, type StateDict } from '@recur/nn-recurrent';

export type RecurrentKind = 'LSTM' | 'GRU' | 'RNN';
export type RecurrentModule = LSTM | GRU | RNN;

export interface ModuleConfig {
  kind: RecurrentKind;
  inputSize: number;
  hiddenSize: number;
  bidirectional: boolean;
  bias: boolean;
  batchFirst: boolean;
  nonlinearity: 'tanh' | 'relu';
}

export function buildModule(config: ModuleConfig, stateDict: StateDict): RecurrentModule {
  const { kind, nonlinearity, ...options } = config;
  const module =
    kind === 'LSTM' ? new LSTM({ ...options, seed: 0 }) : kind === 'GRU' ? new GRU({ ...options, seed: 0 }) : new RNN({ ...options, nonlinearity, seed: 0 });
  module.loadStateDict(stateDict);
  module.eval();
  return module;
}

/**
 * `blocks` gate blocks of `rows` rows each (row length `cols`), taken from `values` at `offset` in
 * the order `order` names (PyTorch's block j is the source's block order[j]).
 */
export function reorderBlocks(values: Float32Array, offset: number, rows: number, cols: number, order: readonly number[]): Float32Array {
  const block = rows * cols;
  const out = new Float32Array(order.length * block);
  order.forEach((from, j) => {
    out.set(values.subarray(offset + from * block, offset + (from + 1) * block), j * block);
  });
  return out;
}

/** Transposes a row-major [rows, cols] matrix. */
export function transpose(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c]!;
  return out;
}
