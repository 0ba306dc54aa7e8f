// brain.js `recurrent.LSTMTimeStep` with PyTorch's gate weights copied in and an identity output layer,
// so its result is the final hidden state. brain.js's LSTM keeps no separate cell state (it "retains"
// forget * previous hidden), so it cannot reproduce PyTorch's numbers: the error column shows by how much.

import { createRequire } from 'node:module';
import { packageVersion } from '../versions.js';
import { type Workload, makeWeights } from '../workloads.js';
import type { Prepared, Runner } from './types.js';

const require = createRequire(import.meta.url);

interface BrainMatrix {
  rows: number;
  columns: number;
  weights: Float32Array;
}

export const brainRunner: Runner = {
  name: 'brain.js',
  version: () => packageVersion('brain.js'),
  skip: (w) =>
    w.kind !== 'LSTM' || w.bidirectional || w.numLayers !== 1 ? 'brain.js has no bidirectional or PyTorch-style stacked layer' : null,
  async prepare(w: Workload): Promise<Prepared> {
    const brain = require('brain.js') as {
      recurrent: {
        LSTMTimeStep: new (o: object) => {
          initialize(): void;
          bindEquation(): void;
          run(x: number[][]): number[];
          model: { hiddenLayers: Array<Record<string, BrainMatrix>>; outputConnector: BrainMatrix; output: BrainMatrix };
        };
      };
    };
    const { params, input } = makeWeights(w);
    const H = w.hiddenSize;
    const I = w.inputSize;
    const net = new brain.recurrent.LSTMTimeStep({ inputSize: I, hiddenLayers: [H], outputSize: H });
    net.initialize();
    net.bindEquation();
    const layer = net.model.hiddenLayers[0]!;
    // PyTorch's gate blocks: i, f, g, o.
    const blocks: Array<[string, number]> = [['input', 0], ['forget', 1], ['cellActivation', 2], ['output', 3]];
    for (const [name, k] of blocks) {
      layer[`${name}Matrix`]!.weights.set(params.weight_ih_l0!.data.subarray(k * H * I, (k + 1) * H * I));
      layer[`${name}Hidden`]!.weights.set(params.weight_hh_l0!.data.subarray(k * H * H, (k + 1) * H * H));
      const bias = layer[`${name}Bias`]!.weights;
      for (let j = 0; j < H; j++) bias[j] = params.bias_ih_l0!.data[k * H + j]! + params.bias_hh_l0!.data[k * H + j]!;
    }
    const connector = net.model.outputConnector;
    connector.weights.fill(0);
    for (let j = 0; j < H; j++) connector.weights[j * H + j] = 1;
    net.model.output.weights.fill(0);
    // brain.js runs one sequence at a time, as arrays of numbers.
    const sequences = Array.from({ length: w.batch }, (_, b) =>
      Array.from({ length: w.seqLen }, (_, t) => Array.from(input.subarray((t * w.batch + b) * I, (t * w.batch + b + 1) * I))),
    );
    const out = new Float32Array(w.batch * H);
    return {
      compare: 'last',
      note: 'brain.js LSTM has no cell state (forget gate scales the previous h): not PyTorch LSTM',
      run() {
        for (let b = 0; b < sequences.length; b++) out.set(net.run(sequences[b]!), b * H);
      },
      output: async () => out,
    };
  },
};
