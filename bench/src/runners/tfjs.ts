// TensorFlow.js layers on tfjs-backend-wasm (SIMD) or tfjs-backend-cpu, with PyTorch's weights converted
// (kernel = W_ih^T, recurrentKernel = W_hh^T, bias = b_ih + b_hh; LSTM gate order i,f,c,o as PyTorch;
// recurrentActivation 'sigmoid'). tfjs's GRU only has reset_after = false, so it cannot express
// PyTorch's GRU: its outputs are compared and shown, not hidden.

import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { packageVersion } from '../versions.js';
import { type Workload, makeWeights, reorderGates, toBatchFirst, transpose } from '../workloads.js';
import type { Prepared, Runner } from './types.js';

const require = createRequire(import.meta.url);

export function tfjsRunner(backend: 'wasm' | 'cpu'): Runner {
  return {
    name: `tfjs-${backend}`,
    version: () => packageVersion('@tensorflow/tfjs-core'),
    async prepare(w: Workload): Promise<Prepared> {
      // The CommonJS bundles: tfjs-core's ESM build cannot be imported by Node. The umbrella package
      // (same tfjs-core and tfjs-layers) also registers the chained tensor methods tfjs-layers calls.
      const tf = require('@tensorflow/tfjs') as typeof import('@tensorflow/tfjs-core') & { layers: unknown };
      const tfl = require('@tensorflow/tfjs-layers') as typeof import('@tensorflow/tfjs-layers');
      if (backend === 'wasm') {
        const wasm = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
        wasm.setWasmPaths(`${dirname(require.resolve('@tensorflow/tfjs-backend-wasm'))}/`);
        wasm.setThreadsCount(1);
      } else {
        require('@tensorflow/tfjs-backend-cpu');
      }
      await tf.setBackend(backend);
      await tf.ready();
      const weights = makeWeights(w);
      const H = w.hiddenSize;
      const D = w.bidirectional ? 2 : 1;
      // Keras' GRU stacks z, r, h; PyTorch stacks r, z, n.
      const order = w.kind === 'GRU' ? [1, 0, 2] : w.kind === 'LSTM' ? [0, 1, 2, 3] : [0];
      const G = order.length;
      const model = tfl.sequential();
      const layerWeights: InstanceType<typeof tf.Tensor>[] = [];
      for (let l = 0; l < w.numLayers; l++) {
        const I = l === 0 ? w.inputSize : H * D;
        // Zero initialisers: the weights are set right after, and orthogonal init of 512x512 is slow.
        const init = { kernelInitializer: 'zeros', recurrentInitializer: 'zeros' } as const;
        const config = { units: H, returnSequences: true, recurrentActivation: 'sigmoid' as const, ...init };
        const cell =
          w.kind === 'LSTM'
            ? tfl.layers.lstm(config)
            : w.kind === 'GRU'
              ? tfl.layers.gru(config)
              : tfl.layers.simpleRNN({ units: H, returnSequences: true, ...init });
        const layer = w.bidirectional ? tfl.layers.bidirectional({ layer: cell as never, mergeMode: 'concat' }) : cell;
        if (l === 0) model.add(tfl.layers.inputLayer({ inputShape: [w.seqLen, w.inputSize] }));
        model.add(layer);
        const values: InstanceType<typeof tf.Tensor>[] = [];
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
        layerWeights.push(...values);
      }
      const x = tf.tensor3d(toBatchFirst(weights.input, w.seqLen, w.batch, w.inputSize), [w.batch, w.seqLen, w.inputSize]);
      let out: Float32Array = new Float32Array(0);
      return {
        compare: 'sequence',
        note: w.kind === 'GRU' ? 'tfjs GRU has no reset_after: cannot express PyTorch GRU' : undefined,
        async run() {
          const y = model.predict(x) as InstanceType<typeof tf.Tensor>;
          out = (await y.data()) as Float32Array;
          y.dispose();
        },
        // tfjs is batch-first: [B, T, D*H] -> [T, B, D*H]
        output: async () => toBatchFirst(out, w.batch, w.seqLen, D * H),
        dispose: () => {
          x.dispose();
          for (const t of layerWeights) t.dispose();
        },
      };
    },
  };
}
