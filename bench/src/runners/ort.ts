// ONNX Runtime: onnxruntime-node (native CPU EP) and onnxruntime-web (wasm EP, 1 or 2 threads), on a
// graph built by hand from the same PyTorch weights. Session creation is outside the timer.

import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { buildOnnxModel } from '../onnx-model.js';
import { packageVersion } from '../versions.js';
import { type Workload, makeWeights } from '../workloads.js';
import type { Prepared, Runner } from './types.js';

type Ort = typeof import('onnxruntime-node');

const require = createRequire(import.meta.url);

async function load(kind: 'node' | 'web', threads: number): Promise<Ort> {
  if (kind === 'node') return (await import('onnxruntime-node')) as unknown as Ort;
  const ort = (await import('onnxruntime-web')) as unknown as typeof import('onnxruntime-web');
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.simd = true;
  ort.env.wasm.wasmPaths = `${dirname(require.resolve('onnxruntime-web'))}/`;
  return ort as unknown as Ort;
}

export function ortRunner(kind: 'node' | 'web', threads: number): Runner {
  const name = kind === 'node' ? 'ort-node' : `ort-web-${threads}t`;
  return {
    name,
    version: () => packageVersion(kind === 'node' ? 'onnxruntime-node' : 'onnxruntime-web'),
    async prepare(w: Workload): Promise<Prepared> {
      const ort = await load(kind, threads);
      const weights = makeWeights(w);
      const options =
        kind === 'node'
          ? { executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1 }
          : { executionProviders: ['wasm'] };
      const session = await ort.InferenceSession.create(buildOnnxModel(w, weights), options);
      const feeds = { X: new ort.Tensor('float32', weights.input, [w.seqLen, w.batch, w.inputSize]) };
      let out: Float32Array = new Float32Array(0);
      return {
        compare: 'sequence',
        async run() {
          const result = await session.run(feeds);
          out = result.Y!.data as Float32Array;
        },
        output: async () => out,
        dispose: () => void session.release(),
      };
    },
  };
}
