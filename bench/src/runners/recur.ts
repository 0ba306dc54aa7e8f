// recur on one backend, through the public API like any user; also the streaming path frame by frame,
// and training steps (autograd, Linear, mseLoss, Adam from @recur/optim).

import { Tensor, noGrad, registerBackend, setBackend } from '@recur/core-tensor';
import { type WasmBackend, createWasmBackend } from '@recur/kernels-wasm';
import { GRU, LSTM, Linear, RNN, mseLoss } from '@recur/nn-recurrent';
import { Adam } from '@recur/optim';
import { packageVersion } from '../versions.js';
import { LEARNING_RATE, type Weights, type Workload, chunkRanges, makeTrainingData, makeWeights } from '../workloads.js';
import type { Prepared, PreparedTraining, Runner } from './types.js';

// recur-wasm is one thread (what the rows before threads measured); recur-wasm-2t two threads. Each
// runner runs in a process of its own, so only the backend it selects ever starts.
export const wasmBackends = new Map<number, WasmBackend>();
for (const threads of [1, 2]) {
  const b = createWasmBackend({ name: threads === 1 ? 'wasm' : `wasm-${threads}t`, threads });
  wasmBackends.set(threads, b);
  registerBackend(b);
}

export function buildModule(w: Workload, weights: Weights): LSTM | GRU | RNN {
  const Ctor = { LSTM, GRU, RNN }[w.kind];
  const m = new Ctor(w.inputSize, w.hiddenSize, w.numLayers, { bidirectional: w.bidirectional, seed: 0 }).eval();
  m.loadStateDict(Object.fromEntries(Object.entries(weights.params).map(([k, v]) => [k, new Tensor(v.data, v.shape)])));
  return m;
}

/**
 * The training step of `w.train`: per chunk, zeroGrad, forward from the carried state, MSE of the head,
 * backward, Adam step, then the final state detached (truncated BPTT). The loss is read every chunk.
 */
function prepareTraining(w: Workload): PreparedTraining {
  const weights = makeWeights(w);
  const data = makeTrainingData(w, weights.input);
  const lstm = buildModule(w, weights).train() as LSTM;
  const head = new Linear(w.hiddenSize, 1, { seed: 0 });
  head.loadStateDict({ weight: new Tensor(data.headWeight, [1, w.hiddenSize]), bias: new Tensor(data.headBias, [1]) });
  const opt = new Adam([...lstm.parameters(), ...head.parameters()], { lr: LEARNING_RATE });
  const { batch: B, inputSize: I } = w;
  const chunks = chunkRanges(w.seqLen, w.train!.chunkLen).map(([s, n]) => ({
    x: new Tensor(weights.input.subarray(s * B * I, (s + n) * B * I), [n, B, I]),
    y: new Tensor(data.target.subarray(s * B, (s + n) * B), [n, B, 1]),
  }));
  const losses: number[] = [];
  return {
    run() {
      let state: [Tensor, Tensor] | undefined;
      for (const { x, y } of chunks) {
        opt.zeroGrad();
        const [out, [h, c]] = lstm.forward(x, state);
        const loss = mseLoss(head.forward(out), y);
        loss.backward();
        opt.step();
        losses.push(loss.values[0]!);
        state = [h.detach(), c.detach()];
      }
    },
    losses: () => losses,
    dispose: () => {
      lstm.dispose();
      head.dispose();
    },
  };
}

export function recurRunner(backend: 'js' | 'wasm', frames = false, variant?: 'relaxed-simd', threads = 1): Runner {
  const select = async () => {
    const wasm = wasmBackends.get(threads)!;
    await setBackend(backend === 'wasm' ? wasm.name : backend);
    if (variant && wasm.kernelVariant() !== variant) {
      throw new Error(`this engine runs the ${wasm.kernelVariant()} build; relaxed SIMD needs Node 22+ or --experimental-wasm-relaxed-simd`);
    }
    if (backend === 'wasm' && wasm.threadInfo().active !== threads) {
      throw new Error(`wasm asked for ${threads} threads runs ${wasm.threadInfo().active}: ${wasm.threadInfo().reason}`);
    }
  };
  return {
    name: `recur-${backend}${frames ? '-frames' : ''}${threads > 1 ? `-${threads}t` : ''}${variant ? '-relaxed' : ''}`,
    version: () => packageVersion('@recur/nn-recurrent'),
    skip: (w) => (frames && (w.bidirectional || w.batch !== 1) ? 'frames only for the unidirectional batch-1 stream' : null),
    ...(frames
      ? {}
      : {
          async prepareTraining(w: Workload): Promise<PreparedTraining> {
            await select();
            return prepareTraining(w);
          },
        }),
    async prepare(w): Promise<Prepared> {
      await select();
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
        // The module keeps its weights prepared per backend, so switching costs nothing once both ran.
        ...(backend === 'wasm' && threads > 1
          ? { useThreads: async (n: 1 | 2) => void (await setBackend(wasmBackends.get(n === 1 ? 1 : threads)!.name)) }
          : {}),
        dispose: () => m.dispose(),
      };
    },
  };
}
