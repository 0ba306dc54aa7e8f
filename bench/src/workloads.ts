// The benchmark workloads and their seeded weights in PyTorch's layout, identical in every process,
// so each peer runs the same model on the same input.

import { Generator, type RecurrentMode, gateCount, recurrentParameters } from '@recur/core-tensor';

export type Kind = 'LSTM' | 'GRU' | 'RNN';

export interface Workload {
  id: string;
  kind: Kind;
  inputSize: number;
  hiddenSize: number;
  numLayers: number;
  bidirectional: boolean;
  seqLen: number;
  batch: number;
  /**
   * A training-step workload: forward + backward + Adam, one optimizer step per chunk of `chunkLen`
   * steps with the state carried (detached) between chunks; `forward` names the forward workload of
   * the same model, whose weights it shares.
   */
  train?: { chunkLen: number; forward: string };
}

export const WORKLOADS: Workload[] = [
  { id: 'tiny', kind: 'LSTM', inputSize: 5, hiddenSize: 10, numLayers: 1, bidirectional: false, seqLen: 6, batch: 3 },
  { id: 'stream', kind: 'LSTM', inputSize: 64, hiddenSize: 128, numLayers: 1, bidirectional: false, seqLen: 200, batch: 1 },
  { id: 'medium', kind: 'LSTM', inputSize: 128, hiddenSize: 256, numLayers: 1, bidirectional: false, seqLen: 100, batch: 32 },
  { id: 'large', kind: 'LSTM', inputSize: 512, hiddenSize: 512, numLayers: 2, bidirectional: true, seqLen: 50, batch: 64 },
  { id: 'gru-medium', kind: 'GRU', inputSize: 128, hiddenSize: 256, numLayers: 1, bidirectional: false, seqLen: 100, batch: 32 },
  { id: 'rnn-medium', kind: 'RNN', inputSize: 128, hiddenSize: 256, numLayers: 1, bidirectional: false, seqLen: 100, batch: 32 },
  // Training steps: the model of `stream` as truncated BPTT over its 200 steps in 4 chunks of 50 (4
  // optimizer steps per run), and of `medium` with whole-sequence BPTT.
  { id: 'train-stream', kind: 'LSTM', inputSize: 64, hiddenSize: 128, numLayers: 1, bidirectional: false, seqLen: 200, batch: 1, train: { chunkLen: 50, forward: 'stream' } },
  { id: 'train-medium', kind: 'LSTM', inputSize: 128, hiddenSize: 256, numLayers: 1, bidirectional: false, seqLen: 100, batch: 32, train: { chunkLen: 100, forward: 'medium' } },
];

/** The quick subset (`pnpm bench --quick`). */
export const QUICK = ['tiny', 'stream', 'medium', 'train-stream'];

const MODES: Record<Kind, RecurrentMode> = { LSTM: 'lstm', GRU: 'gru', RNN: 'rnn_tanh' };

/** Gate blocks of a kind, from recur's one description of PyTorch's layout. */
export function gates(kind: Kind): number {
  return gateCount(MODES[kind]);
}

/** Floating-point operations of one forward pass (multiply-adds count two). */
export function flops(w: Workload): number {
  const G = gates(w.kind);
  const D = w.bidirectional ? 2 : 1;
  let total = 0;
  for (let l = 0; l < w.numLayers; l++) {
    const input = l === 0 ? w.inputSize : w.hiddenSize * D;
    total += D * 2 * w.seqLen * w.batch * G * w.hiddenSize * (input + w.hiddenSize);
  }
  return total;
}

/**
 * Nominal floating-point operations of one training step: forward, backward (twice the forward's
 * GEMMs: gradients of the inputs and of the weights), with the head `Linear(H, 1)`: three forwards.
 * Nominal because a backend that recomputes the forward in its backward does more.
 */
export function trainingFlops(w: Workload): number {
  return 3 * (flops(w) + 2 * w.seqLen * w.batch * w.hiddenSize);
}

/** Flops of the cell: a training step's for a training workload, else a forward's. */
export function cellFlops(w: Workload): number {
  return w.train ? trainingFlops(w) : flops(w);
}

/** Adam's learning rate in every training runner (betas 0.9, 0.999 and eps 1e-8, PyTorch's defaults). */
export const LEARNING_RATE = 1e-3;

/** `[start, length]` of each chunk of truncated BPTT over `seqLen` steps. */
export function chunkRanges(seqLen: number, chunkLen: number): Array<[number, number]> {
  if (!(Number.isInteger(chunkLen) && chunkLen > 0)) throw new Error(`chunkLen must be a positive integer, got ${chunkLen}`);
  const out: Array<[number, number]> = [];
  for (let s = 0; s < seqLen; s += chunkLen) out.push([s, Math.min(chunkLen, seqLen - s)]);
  return out;
}

export interface Weights {
  /** PyTorch state_dict entries, e.g. weight_ih_l0, bias_hh_l1_reverse. */
  params: Record<string, { shape: number[]; data: Float32Array }>;
  /** Input `[T, B, I]`, time-major. */
  input: Float32Array;
}

function seeded(id: string): Generator {
  let seed = 0;
  for (const ch of id) seed = (seed * 31 + ch.charCodeAt(0)) >>> 0;
  return new Generator(seed);
}

/**
 * PyTorch-layout weights from U(-1/sqrt(H), 1/sqrt(H)) and a standard normal input, seeded by the id
 * (a training workload's by its forward workload's id: the same model and input).
 */
export function makeWeights(w: Workload): Weights {
  const g = seeded(w.train?.forward ?? w.id);
  const bound = 1 / Math.sqrt(w.hiddenSize);
  const uniform = (n: number) => Float32Array.from({ length: n }, () => -bound + 2 * bound * g.uniform());
  const params: Weights['params'] = {};
  const layout = { ...w, mode: MODES[w.kind] };
  for (const p of recurrentParameters(layout)) params[p.name] = { shape: p.shape, data: uniform(p.shape.reduce((a, b) => a * b, 1)) };
  const input = Float32Array.from({ length: w.seqLen * w.batch * w.inputSize }, () => g.normal());
  return { params, input };
}

export interface TrainingData {
  /** The head `Linear(H, 1)`: `weight` `[1, H]` and `bias` `[1]`, from PyTorch's U(-1/sqrt(H), 1/sqrt(H)). */
  headWeight: Float32Array;
  headBias: Float32Array;
  /** Target `[T, B, 1]`, time-major: the mean of input feature 0 at this step and the one before. */
  target: Float32Array;
}

/** The head and the regression target of a training workload (the input is `makeWeights(w).input`). */
export function makeTrainingData(w: Workload, input: Float32Array): TrainingData {
  const g = seeded(`${w.id}/head`);
  const bound = 1 / Math.sqrt(w.hiddenSize);
  const uniform = (n: number) => Float32Array.from({ length: n }, () => -bound + 2 * bound * g.uniform());
  const headWeight = uniform(w.hiddenSize);
  const headBias = uniform(1);
  const { seqLen: T, batch: B, inputSize: I } = w;
  const target = new Float32Array(T * B);
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) target[t * B + b] = 0.5 * (input[(t * B + b) * I]! + (t > 0 ? input[((t - 1) * B + b) * I]! : 0));
  }
  return { headWeight, headBias, target };
}

/** Time-major `[T, B, F]` to batch-first `[B, T, F]`. */
export function toBatchFirst(x: Float32Array, T: number, B: number, F: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) out.set(x.subarray((t * B + b) * F, (t * B + b + 1) * F), (b * T + t) * F);
  return out;
}

/** Rows of a `[G*H, K]` weight reordered by gate blocks: `order[k]` is the source block of block k. */
export function reorderGates(data: Float32Array, H: number, K: number, order: number[]): Float32Array {
  const out = new Float32Array(data.length);
  for (let k = 0; k < order.length; k++) out.set(data.subarray(order[k]! * H * K, (order[k]! + 1) * H * K), k * H * K);
  return out;
}

/** Transposes a row-major `[rows, cols]` matrix. */
export function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}
