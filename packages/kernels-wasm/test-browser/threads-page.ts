// The page of threads-in-chromium.test.ts, bundled by esbuild against the built packages. On the page's
// main thread it starts a Web Worker on this same module; both run an LSTM and a GRU layer on a
// threads: 2 backend (split: 'always') and on a threads: 1 one and report threadInfo() and the outputs.

import { Generator, type RecurrentMode } from '@recur/core-tensor';
import { type WasmThreadInfo, createWasmBackend, threadsUnavailableReason } from '@recur/kernels-wasm';

type WasmBackend = ReturnType<typeof createWasmBackend>;

export interface Probe {
  crossOriginIsolated: boolean;
  sharedArrayBuffer: boolean;
  unavailable: string | null;
  two: WasmThreadInfo;
  one: WasmThreadInfo;
  /** Per mode: the outputs and final states on two threads and on one. */
  outputs: Record<string, { two: number[]; one: number[] }>;
  /** Page main thread only: the LSTM run through the proxy (layerAsync in the worker recur manages). */
  proxied: number[] | null;
}

export interface PageResult {
  main: Probe;
  worker: Probe;
}

const I = 12;
const H = 40;
const T = 9;
const B = 5;

/** The weights and inputs of one layer, the same for a seed on every thread and path. */
function layerInputs(mode: RecurrentMode, seed: number) {
  const g = new Generator(seed);
  const rand = (n: number) => Float32Array.from({ length: n }, () => g.uniform() - 0.5);
  const G = mode === 'lstm' ? 4 : 3;
  const weights = {
    mode,
    inputSize: I,
    hiddenSize: H,
    projSize: 0,
    weightIh: rand(G * H * I),
    weightHh: rand(G * H * H),
    biasIh: rand(G * H),
    biasHh: rand(G * H),
    weightHr: null,
  };
  return { weights, x: rand(T * B * I), h0: rand(B * H), c0: mode === 'lstm' ? rand(B * H) : null };
}

/** One forward of a fused layer over the whole sequence: output, then h_n (and c_n). */
function forward(be: WasmBackend, mode: RecurrentMode, seed: number): number[] {
  const { weights, x, h0, c0 } = layerInputs(mode, seed);
  const out = new Float32Array(T * B * H);
  const hN = new Float32Array(B * H);
  const cN = mode === 'lstm' ? new Float32Array(B * H) : null;
  const prepared = be.prepareWeights(weights);
  be.layer({ weights: prepared, x, seqLen: T, batch: B, h0, c0, out, outOffset: 0, outStride: H, hN, cN }, be.createWorkspace());
  return [...out, ...hN, ...(cN ?? [])];
}

/** `forward` through the backend's asynchronous members: on a page's main thread, in recur's worker. */
async function forwardAsync(be: WasmBackend, mode: RecurrentMode, seed: number): Promise<number[]> {
  const inputs = layerInputs(mode, seed);
  const x = be.upload!(inputs.x);
  const h0 = be.upload!(inputs.h0);
  const c0 = inputs.c0 ? be.upload!(inputs.c0) : null;
  const out = be.allocate!(T * B * H);
  const hN = be.allocate!(B * H);
  const cN = mode === 'lstm' ? be.allocate!(B * H) : null;
  const prepared = be.prepareWeights(inputs.weights);
  await be.layerAsync!({ weights: prepared, x, seqLen: T, batch: B, h0, c0, out, outOffset: 0, outStride: H, hN, cN }, be.createWorkspace());
  return [...(await out.read()), ...(await hN.read()), ...(cN ? await cN.read() : [])];
}

async function probe(): Promise<Probe> {
  const two = createWasmBackend({ name: 'wasm-2t', threads: 2, split: 'always' });
  const one = createWasmBackend({ name: 'wasm-1t', threads: 1 });
  await Promise.all([two.init(), one.init()]);
  const outputs: Probe['outputs'] = {};
  for (const [mode, seed] of [['lstm', 1], ['gru', 2]] as const) {
    outputs[mode] = { two: forward(two, mode, seed), one: forward(one, mode, seed) };
  }
  const result: Probe = {
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
    sharedArrayBuffer: typeof SharedArrayBuffer === 'function',
    unavailable: threadsUnavailableReason(),
    two: two.threadInfo(),
    one: one.threadInfo(),
    outputs,
    proxied: two.capabilities?.async ? await forwardAsync(two, 'lstm', 1) : null,
  };
  result.two = two.threadInfo();
  two.dispose();
  return result;
}

if (typeof document === 'undefined') {
  // In the Web Worker: answer the page's one message with a probe.
  const scope = globalThis as unknown as { onmessage: (() => void) | null; postMessage(message: unknown): void };
  scope.onmessage = () => {
    probe().then(
      (r) => scope.postMessage(r),
      (error: unknown) => scope.postMessage({ error: String((error as Error)?.stack ?? error) }),
    );
  };
} else {
  const page = window as unknown as { result?: PageResult | { error: string } };
  const inWorker = (): Promise<Probe> =>
    new Promise((resolve, reject) => {
      const worker = new Worker(import.meta.url, { type: 'module' });
      worker.onmessage = (e: MessageEvent<Probe | { error: string }>) => {
        worker.terminate();
        if ('error' in e.data) reject(new Error(e.data.error));
        else resolve(e.data);
      };
      worker.onerror = (e) => reject(new Error(`the worker failed: ${e.message}`));
      worker.postMessage('probe');
    });
  Promise.all([probe(), inWorker()]).then(
    ([main, worker]) => {
      page.result = { main, worker };
    },
    (error: unknown) => {
      page.result = { error: String((error as Error)?.stack ?? error) };
    },
  );
}
