// recur on one backend, through the public API like any user; also the streaming path frame by frame.

import { Tensor, noGrad, registerBackend, setBackend } from '@recur/core-tensor';
import { wasmBackend } from '@recur/kernels-wasm';
import { GRU, LSTM, RNN } from '@recur/nn-recurrent';
import { packageVersion } from '../versions.js';
import { type Weights, type Workload, makeWeights } from '../workloads.js';
import type { Prepared, Runner } from './types.js';

registerBackend(wasmBackend);

export function buildModule(w: Workload, weights: Weights): LSTM | GRU | RNN {
  const Ctor = { LSTM, GRU, RNN }[w.kind];
  const m = new Ctor(w.inputSize, w.hiddenSize, w.numLayers, { bidirectional: w.bidirectional, seed: 0 }).eval();
  m.loadStateDict(Object.fromEntries(Object.entries(weights.params).map(([k, v]) => [k, new Tensor(v.data, v.shape)])));
  return m;
}

export function recurRunner(backend: 'js' | 'wasm', frames = false, variant?: 'relaxed-simd'): Runner {
  return {
    name: `recur-${backend}${frames ? '-frames' : ''}${variant ? '-relaxed' : ''}`,
    version: () => packageVersion('@recur/nn-recurrent'),
    skip: (w) => (frames && (w.bidirectional || w.batch !== 1) ? 'frames only for the unidirectional batch-1 stream' : null),
    async prepare(w): Promise<Prepared> {
      await setBackend(backend);
      if (variant && wasmBackend.kernelVariant() !== variant) {
        throw new Error(`this engine runs the ${wasmBackend.kernelVariant()} build; relaxed SIMD needs Node 22+ or --experimental-wasm-relaxed-simd`);
      }
      const weights = makeWeights(w);
      const m = buildModule(w, weights);
      const x = new Tensor(weights.input, [w.seqLen, w.batch, w.inputSize]);
      let out: Float32Array = new Float32Array(0);
      if (frames) {
        const stream = m.stream({ batch: w.batch });
        const F = w.batch * w.inputSize;
        const frameViews = Array.from({ length: w.seqLen }, (_, t) => weights.input.subarray(t * F, (t + 1) * F));
        const H = w.hiddenSize;
        const collected = new Float32Array(w.seqLen * w.batch * H);
        return {
          compare: 'sequence',
          run() {
            stream.reset();
            for (let t = 0; t < w.seqLen; t++) collected.set(stream.step(frameViews[t]!).values, t * w.batch * H);
          },
          output: async () => collected,
          dispose: () => m.dispose(),
        };
      }
      return {
        compare: 'sequence',
        run() {
          // Inference, as torch.no_grad(): parameters require grad, so a plain forward would record.
          out = noGrad(() => (m as LSTM).forward(x))[0].values;
        },
        output: async () => out,
        dispose: () => m.dispose(),
      };
    },
  };
}
