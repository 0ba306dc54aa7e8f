// TensorFlow.js layers on tfjs-backend-wasm (SIMD) or tfjs-backend-cpu, with PyTorch's weights converted
// (kernel = W_ih^T, recurrentKernel = W_hh^T, bias = b_ih + b_hh; LSTM gate order i,f,c,o as PyTorch;
// recurrentActivation 'sigmoid'). tfjs's GRU only has reset_after = false, so it cannot express
// PyTorch's GRU: its outputs are compared and shown, not hidden. Training steps use `model.trainOnBatch`
// (a Dense head, MSE, Adam), with a stateful LSTM carrying the state between chunks.

import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { packageVersion } from '../versions.js';
import {
  LEARNING_RATE,
  type Weights,
  type Workload,
  chunkRanges,
  makeTrainingData,
  makeWeights,
  reorderGates,
  toBatchFirst,
  transpose,
} from '../workloads.js';
import type { Prepared, PreparedTraining, Runner } from './types.js';

const require = createRequire(import.meta.url);
type Tf = typeof import('@tensorflow/tfjs-core') & typeof import('@tensorflow/tfjs-layers');
type TfTensor = InstanceType<Tf['Tensor']>;

async function loadTf(backend: 'wasm' | 'cpu'): Promise<Tf> {
  // The CommonJS bundle: tfjs-core's ESM build cannot be imported by Node. The umbrella package (same
  // tfjs-core and tfjs-layers) also registers the chained tensor methods tfjs-layers calls.
  const tf = require('@tensorflow/tfjs') as Tf;
  if (backend === 'wasm') {
    const wasm = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(`${dirname(require.resolve('@tensorflow/tfjs-backend-wasm'))}/`);
    wasm.setThreadsCount(1);
  } else {
    require('@tensorflow/tfjs-backend-cpu');
  }
  await tf.setBackend(backend);
  await tf.ready();
  return tf;
}

/**
 * A sequential model of the workload's recurrent layers with PyTorch's weights set; returns the weight
 * tensors it created (to dispose). `batchInputShape` fixes the batch (a stateful LSTM needs it).
 */
function recurrentModel(tf: Tf, w: Workload, weights: Weights, options: { stateful?: boolean; chunkLen?: number } = {}) {
  const H = w.hiddenSize;
  const D = w.bidirectional ? 2 : 1;
  // Keras' GRU stacks z, r, h; PyTorch stacks r, z, n.
  const order = w.kind === 'GRU' ? [1, 0, 2] : w.kind === 'LSTM' ? [0, 1, 2, 3] : [0];
  const G = order.length;
  const model = tf.sequential();
  const created: TfTensor[] = [];
  for (let l = 0; l < w.numLayers; l++) {
    const I = l === 0 ? w.inputSize : H * D;
    // Zero initialisers: the weights are set right after, and orthogonal init of 512x512 is slow.
    const init = { kernelInitializer: 'zeros', recurrentInitializer: 'zeros' } as const;
    const config = { units: H, returnSequences: true, recurrentActivation: 'sigmoid' as const, stateful: options.stateful, ...init };
    const cell =
      w.kind === 'LSTM'
        ? tf.layers.lstm(config)
        : w.kind === 'GRU'
          ? tf.layers.gru(config)
          : tf.layers.simpleRNN({ units: H, returnSequences: true, ...init });
    const layer = w.bidirectional ? tf.layers.bidirectional({ layer: cell as never, mergeMode: 'concat' }) : cell;
    if (l === 0) {
      const T = options.chunkLen ?? w.seqLen;
      model.add(tf.layers.inputLayer(options.stateful ? { batchInputShape: [w.batch, T, w.inputSize] } : { inputShape: [T, w.inputSize] }));
    }
    model.add(layer);
    const values: TfTensor[] = [];
    for (let d = 0; d < D; d++) {
      const sfx = `_l${l}${d === 1 ? '_reverse' : ''}`;
      const p = weights.params;
      const wih = reorderGates(p[`weight_ih${sfx}`]!.data, H, I, order);
      const whh = reorderGates(p[`weight_hh${sfx}`]!.data, H, H, order);
      const bih = reorderGates(p[`bias_ih${sfx}`]!.data, H, 1, order);
      const bhh = reorderGates(p[`bias_hh${sfx}`]!.data, H, 1, order);
      values.push(
        tf.tensor2d(transpose(wih, G * H, I), [I, G * H]),
        tf.tensor2d(transpose(whh, G * H, H), [H, G * H]),
        tf.tensor1d(bih.map((v, j) => v + bhh[j]!)),
      );
    }
    layer.setWeights(values);
    created.push(...values);
  }
  return { model, created };
}

/**
 * The training step of `w.train` as a Keras user writes it: LSTM + Dense(1) compiled with MSE and Adam
 * (PyTorch's betas and eps), one `trainOnBatch` per chunk; the LSTM is stateful when there are several
 * chunks, and `resetStates()` starts each step from zeros as recur's does.
 */
function prepareTraining(tf: Tf, w: Workload): PreparedTraining {
  const weights = makeWeights(w);
  const data = makeTrainingData(w, weights.input);
  const ranges = chunkRanges(w.seqLen, w.train!.chunkLen);
  const stateful = ranges.length > 1;
  const { model, created } = recurrentModel(tf, w, weights, { stateful, chunkLen: w.train!.chunkLen });
  const dense = tf.layers.dense({ units: 1, kernelInitializer: 'zeros' });
  model.add(dense);
  const headValues = [tf.tensor2d(data.headWeight, [w.hiddenSize, 1]), tf.tensor1d(data.headBias)];
  dense.setWeights(headValues);
  model.compile({ optimizer: tf.train.adam(LEARNING_RATE, 0.9, 0.999, 1e-8), loss: 'meanSquaredError' });
  const { batch: B, inputSize: I } = w;
  const chunks = ranges.map(([s, n]) => ({
    x: tf.tensor3d(toBatchFirst(weights.input.subarray(s * B * I, (s + n) * B * I), n, B, I), [B, n, I]),
    y: tf.tensor3d(toBatchFirst(data.target.subarray(s * B, (s + n) * B), n, B, 1), [B, n, 1]),
  }));
  const losses: number[] = [];
  return {
    async run() {
      if (stateful) model.resetStates();
      for (const { x, y } of chunks) losses.push((await model.trainOnBatch(x, y)) as number);
    },
    losses: () => losses,
    dispose: () => {
      for (const t of [...created, ...headValues, ...chunks.flatMap((c) => [c.x, c.y])]) t.dispose();
      model.dispose();
    },
  };
}

export function tfjsRunner(backend: 'wasm' | 'cpu'): Runner {
  return {
    name: `tfjs-${backend}`,
    version: () => packageVersion('@tensorflow/tfjs-core'),
    async prepareTraining(w: Workload): Promise<PreparedTraining> {
      return prepareTraining(await loadTf(backend), w);
    },
    async prepare(w: Workload): Promise<Prepared> {
      const tf = await loadTf(backend);
      const weights = makeWeights(w);
      const H = w.hiddenSize;
      const D = w.bidirectional ? 2 : 1;
      const { model, created } = recurrentModel(tf, w, weights);
      const x = tf.tensor3d(toBatchFirst(weights.input, w.seqLen, w.batch, w.inputSize), [w.batch, w.seqLen, w.inputSize]);
      let out: Float32Array = new Float32Array(0);
      return {
        compare: 'sequence',
        note: w.kind === 'GRU' ? 'tfjs GRU has no reset_after: cannot express PyTorch GRU' : undefined,
        async run() {
          const y = model.predict(x) as TfTensor;
          out = (await y.data()) as Float32Array;
          y.dispose();
        },
        // tfjs is batch-first: [B, T, D*H] -> [T, B, D*H]
        output: async () => toBatchFirst(out, w.batch, w.seqLen, D * H),
        dispose: () => {
          x.dispose();
          for (const t of created) t.dispose();
        },
      };
    },
  };
}
