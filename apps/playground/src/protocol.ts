// Messages between the page and the compute worker (runs never block the page).

import type { Config } from './config.js';

export interface StateDictPayload {
  [name: string]: { shape: number[]; data: Float32Array };
}

export type Request =
  | { id: number; type: 'init' }
  | { id: number; type: 'run'; config: Config; backend: string; input: Float32Array | null; weights: StateDictPayload | null }
  | { id: number; type: 'compare'; config: Config; input: Float32Array | null; weights: StateDictPayload | null }
  | { id: number; type: 'bench'; config: Config; lengths: number[]; backends: string[] }
  | { id: number; type: 'train'; task: TrainTask };

/** A small model trained live in the worker: next value of a sine wave. */
export interface TrainTask {
  kind: 'LSTM' | 'GRU';
  hiddenSize: number;
  steps: number;
  lr: number;
  backend: string;
}

/** How a wasm backend's threads stand (its threadInfo()), and how the layer calls of one request ran. */
export interface ThreadsReport {
  /** Threads asked for, and those a large call runs on now (1 where threads cannot run). */
  requested: number;
  active: number;
  /** Why threads are off, in the backend's words (null while they run). */
  reason: string | null;
  /** Layer calls of the request run on several threads, and on the calling thread alone (too small to split). */
  threadedCalls: number;
  singleCalls: number;
}

export interface RunResult {
  backend: string;
  ms: number;
  /** The threads of a wasm backend; null for others. */
  threads: ThreadsReport | null;
  input: Float32Array;
  out: Float32Array;
  outShape: number[];
  hN: Float32Array;
  hShape: number[];
  cN: Float32Array | null;
  cShape: number[] | null;
}

export type Response =
  | {
      id: number;
      type: 'ready';
      backends: string[];
      chosen: string;
      unavailable: Record<string, string>;
      wasmVariant: string | null;
      /** The threads of the chosen backend, if it is a wasm one. */
      threads: ThreadsReport | null;
    }
  | { id: number; type: 'result'; result: RunResult }
  | { id: number; type: 'compared'; maxAbsDiff: number; js: RunResult; wasm: RunResult }
  | { id: number; type: 'progress'; done: number; total: number; label: string }
  | { id: number; type: 'bench'; points: Array<{ backend: string; seqLen: number; ms: number }>; threads: Record<string, ThreadsReport> }
  | { id: number; type: 'trainStep'; step: number; loss: number }
  | { id: number; type: 'trained'; losses: number[]; ms: number; safetensors: Uint8Array; target: number[]; prediction: number[] }
  | { id: number; type: 'error'; message: string };
