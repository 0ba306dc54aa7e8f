// The model both threads build: the same seed gives the same weights in the worker and on the page.
// A real application would load trained weights instead (loadSafetensors, as in ../browser-vite).
import { GRU } from '@recur/nn-recurrent';

export const INPUT_SIZE = 32;

export function createModel() {
  const gru = new GRU({ inputSize: INPUT_SIZE, hiddenSize: 256, numLayers: 2, seed: 0 });
  gru.eval();
  return gru;
}
