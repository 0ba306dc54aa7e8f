// Public entry point of @recur/nn-recurrent. Importing it registers the js backend (always
// available), so a forward pass works with no further set-up; `ready()` may pick a faster one.

import { registerBackend } from '@recur/core-tensor';
import { jsBackend } from '@recur/kernels-js';

registerBackend(jsBackend);

export { GRUCell, LSTMCell, RNNCell } from './cells.js';
export { GRU, LSTM, RNN } from './layers.js';
export { Module, RecurrentModule } from './module.js';
export { Embedding, Linear } from './linear.js';
export type { LinearOptions } from './linear.js';
export { bceWithLogits, crossEntropy, mseLoss } from './losses.js';
export type { CrossEntropyOptions, Reduction } from './losses.js';
export type { LoadStateDictOptions, LoadStateDictResult, StateDict } from './module.js';
export type { CellOptions, Nonlinearity, RecurrentOptions } from './options.js';
export {
  PackedSequence,
  packPaddedSequence,
  packSequence,
  padPackedSequence,
  padSequence,
  unpackSequence,
  unpadSequence,
} from './packed.js';
export type { PackOptions, PadOptions } from './packed.js';
export { RecurrentStream } from './stream.js';
export type { StreamOptions, StreamState } from './stream.js';
export { SafetensorsError } from '@recur/core-tensor';
export { loadSafetensors, readSafetensors, saveSafetensors } from './safetensors.js';
export type { SafetensorsFile } from './safetensors.js';
