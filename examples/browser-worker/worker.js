// The Web Worker: recur runs here, so a long forward never blocks the page.
// The page posts { id, data, shape }; the worker answers { id, backend, data, shape, ms }.
import { getBackend, ready, registerBackend, tensor } from '@recur/core-tensor';
import { wasmBackend } from '@recur/kernels-wasm';
import { createModel } from './model.js';

registerBackend(wasmBackend);
const started = ready(); // wasm SIMD where available, else js
const model = started.then(createModel);

self.onmessage = async ({ data: { id, data, shape } }) => {
  try {
    const gru = await model;
    const t0 = performance.now();
    const [out] = gru.forward(tensor(data, shape));
    const result = out.dataSync().slice(); // a copy we own, moved (not copied) to the page below
    const ms = performance.now() - t0;
    self.postMessage({ id, backend: getBackend(), data: result, shape: out.shape, ms }, [result.buffer]);
  } catch (error) {
    self.postMessage({ id, error: String(error) });
  }
};
