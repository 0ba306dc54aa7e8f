// The compute worker: builds the configured module on the chosen backend, loads weights, runs it and
// times it, so long runs never freeze the page. Uses only recur's public API. Here, off the page's main
// thread, the wasm kernels may run on several threads (on a cross-origin isolated page): 'wasm' asks
// for the cores (at most 4), 'wasm-1t' for one and, on machines with more than 2 cores, 'wasm-2t' for
// two, so the benchmark compares thread counts.

/// <reference lib="webworker" />
import { Tensor, backendStatus, listBackends, noGrad, randn, ready, registerBackend, setBackend } from '@recur/core-tensor';
import { type WasmBackend, createWasmBackend, wasmBackend } from '@recur/kernels-wasm';
import { GRU, GRUCell, LSTM, LSTMCell, RNN, RNNCell } from '@recur/nn-recurrent';
import { type Config, isCell, shapesOf } from './config.js';
import type { Request, Response, RunResult, StateDictPayload, ThreadsReport } from './protocol.js';
import { train } from './train.js';

/** The wasm backends by registry name. */
const wasmBackends = new Map<string, WasmBackend>([['wasm', wasmBackend]]);
registerBackend(wasmBackend);
for (const threads of navigator.hardwareConcurrency > 2 ? [2, 1] : [1]) {
  // Below 'wasm' (priority 10), so ready() still picks the default; listed after it.
  const backend = createWasmBackend({ name: `wasm-${threads}t`, threads, priority: 7 + threads });
  wasmBackends.set(backend.name, backend);
  registerBackend(backend);
}

/** The threads of wasm backend `name` now (null for other backends), with its layer-call counters. */
function threadsOf(name: string): ThreadsReport | null {
  const info = wasmBackends.get(name)?.threadInfo();
  if (!info) return null;
  const { requested, active, reason, threadedCalls, singleCalls } = info;
  return { requested, active, reason, threadedCalls, singleCalls };
}

const post = (msg: Response, transfer: Transferable[] = []) => (self as unknown as DedicatedWorkerGlobalScope).postMessage(msg, transfer);

function build(c: Config, weights: StateDictPayload | null) {
  const common = { seed: c.seed, bias: c.bias };
  let m: RNN | LSTM | GRU | RNNCell | LSTMCell | GRUCell;
  switch (c.kind) {
    case 'RNN':
      m = new RNN(c.inputSize, c.hiddenSize, c.numLayers, { ...common, nonlinearity: c.nonlinearity, batchFirst: c.batchFirst, bidirectional: c.bidirectional });
      break;
    case 'LSTM':
      m = new LSTM(c.inputSize, c.hiddenSize, c.numLayers, { ...common, batchFirst: c.batchFirst, bidirectional: c.bidirectional, projSize: c.projSize });
      break;
    case 'GRU':
      m = new GRU(c.inputSize, c.hiddenSize, c.numLayers, { ...common, batchFirst: c.batchFirst, bidirectional: c.bidirectional });
      break;
    case 'RNNCell':
      m = new RNNCell(c.inputSize, c.hiddenSize, { ...common, nonlinearity: c.nonlinearity });
      break;
    case 'LSTMCell':
      m = new LSTMCell(c.inputSize, c.hiddenSize, common);
      break;
    default:
      m = new GRUCell(c.inputSize, c.hiddenSize, common);
  }
  if (weights) m.loadStateDict(Object.fromEntries(Object.entries(weights).map(([k, v]) => [k, new Tensor(v.data, v.shape)])));
  return m.eval();
}

function inputFor(c: Config, given: Float32Array | null): Tensor {
  const shape = shapesOf(c).input;
  if (!given) return randn(shape, { seed: c.seed });
  return new Tensor(given, shape);
}

/** One forward pass (cells are stepped over the sequence), with its time. */
function forward(c: Config, weights: StateDictPayload | null, given: Float32Array | null, backend: string): RunResult {
  const m = build(c, weights);
  const x = inputFor(c, given);
  const s = shapesOf(c);
  // Inference only (as torch.no_grad()): nothing is recorded for gradients.
  const runOnce = () => noGrad(() => runForward());
  const runForward = () => {
    if (isCell(c.kind)) {
      const { seqLen: T, batch: B, inputSize: I, hiddenSize: H } = c;
      const outs = new Float32Array(T * B * H);
      let h: Tensor | undefined;
      let cs: Tensor | undefined;
      for (let t = 0; t < T; t++) {
        const xt = new Tensor(x.values.slice(t * B * I, (t + 1) * B * I), [B, I]);
        if (m instanceof LSTMCell) [h, cs] = m.forward(xt, h && cs ? [h, cs] : null);
        else h = (m as RNNCell | GRUCell).forward(xt, h);
        outs.set(h!.values, t * B * H);
      }
      return { out: outs, hN: h!.values, cN: cs?.values ?? null };
    }
    if (m instanceof LSTM) {
      const [out, [hN, cN]] = m.forward(x);
      return { out: out.values, hN: hN.values, cN: cN.values };
    }
    const [out, hN] = (m as RNN | GRU).forward(x);
    return { out: out.values, hN: hN.values, cN: null };
  };
  const before = threadsOf(backend);
  const r = runOnce(); // also the warm-up: weights are prepared for the backend on the first call
  const after = threadsOf(backend);
  // The layer calls of this one forward, and how many ran on several threads.
  const threads = after && before ? { ...after, threadedCalls: after.threadedCalls - before.threadedCalls, singleCalls: after.singleCalls - before.singleCalls } : null;
  // Timers in a worker may be coarse (0.1 ms): repeat small runs until 20 ms have passed.
  let reps = 0;
  const t0 = performance.now();
  do {
    runOnce();
    reps++;
  } while (performance.now() - t0 < 20 && reps < 1000);
  const ms = (performance.now() - t0) / reps;
  m.dispose();
  return { backend, ms, threads, input: x.values, out: r.out, outShape: s.output, hN: r.hN, hShape: s.hN, cN: r.cN, cShape: s.cN };
}

const buffers = (r: RunResult) => [r.out.buffer, r.hN.buffer, ...(r.cN ? [r.cN.buffer] : [])] as Transferable[];

async function handle(req: Request): Promise<void> {
  switch (req.type) {
    case 'init': {
      const chosen = await ready();
      const unavailable: Record<string, string> = {};
      for (const s of backendStatus()) if (s.state === 'failed') unavailable[s.name] = String((s.error as Error)?.message ?? s.error);
      post({ id: req.id, type: 'ready', backends: listBackends(), chosen, unavailable, wasmVariant: wasmBackend.kernelVariant(), threads: threadsOf(chosen) });
      return;
    }
    case 'run': {
      await setBackend(req.backend);
      const result = forward(req.config, req.weights, req.input, req.backend);
      post({ id: req.id, type: 'result', result }, buffers(result));
      return;
    }
    case 'compare': {
      await setBackend('js');
      const js = forward(req.config, req.weights, req.input, 'js');
      await setBackend('wasm');
      const wasm = forward(req.config, req.weights, req.input, 'wasm');
      let maxAbsDiff = 0;
      for (const [a, b] of [[js.out, wasm.out], [js.hN, wasm.hN]] as const) {
        for (let i = 0; i < a.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(a[i]! - b[i]!));
      }
      post({ id: req.id, type: 'compared', maxAbsDiff, js, wasm });
      return;
    }
    case 'bench': {
      const points: Array<{ backend: string; seqLen: number; ms: number }> = [];
      const threads: Record<string, ThreadsReport> = {};
      const total = req.backends.length * req.lengths.length;
      for (const backend of req.backends) {
        await setBackend(backend);
        for (const seqLen of req.lengths) {
          const c = { ...req.config, seqLen };
          const runs = [0, 1, 2].map(() => forward(c, null, null, backend));
          const times = runs.map((r) => r.ms).sort((a, b) => a - b);
          points.push({ backend, seqLen, ms: times[1]! });
          // The longest sequence's calls (the lengths ascend) stand for the backend in the thread table.
          if (runs[0]!.threads) threads[backend] = runs[0]!.threads;
          post({ id: req.id, type: 'progress', done: points.length, total, label: `${backend}, T = ${seqLen}` });
          await new Promise((r) => setTimeout(r, 0));
        }
      }
      post({ id: req.id, type: 'bench', points, threads });
      return;
    }
    case 'train': {
      const r = await train(req.task, (step, loss) => post({ id: req.id, type: 'trainStep', step, loss }));
      post({ id: req.id, type: 'trained', ...r }, [r.safetensors.buffer as ArrayBuffer]);
      return;
    }
  }
}

self.onmessage = (event: MessageEvent<Request>) => {
  handle(event.data).catch((error: unknown) => {
    post({ id: event.data.id, type: 'error', message: error instanceof Error ? error.message : String(error) });
  });
};
