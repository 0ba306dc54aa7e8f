// The proxy (issue 14): forwardAsync in a worker recur manages, as onnxruntime-web's `proxy` option, run
// here in Node with `proxy: true` (worker_threads; in a browser page's main thread 'auto' turns it on).
// Results equal forward() bit for bit, weights go to the worker once, a dispose() while a call is in
// flight lets it finish, and the backend then runs forwardAsync on the calling thread.

import { ArgumentError, BackendError, type Tensor, registerBackend, setBackend, tensor, unregisterBackend } from '@recur/core-tensor';
import { GRU, LSTM, RNN, packPaddedSequence } from '@recur/nn-recurrent';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createWasmBackend } from '../src/index.js';

const proxied = createWasmBackend({ name: 'wasm-proxy', threads: 2, proxy: true, split: 'always' });

let seed = 7;
const rnd = () => {
  seed = (seed * 16807) % 2147483647;
  return seed / 2147483647 - 0.5;
};
const input = (shape: number[]) => tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, rnd), shape);
const same = (a: Tensor, b: Tensor) => Buffer.from(a.values.buffer).equals(Buffer.from(b.values.buffer));

beforeAll(async () => {
  registerBackend(proxied);
  await setBackend('wasm-proxy');
});

afterAll(() => {
  proxied.dispose();
  unregisterBackend('wasm-proxy');
});

describe('forwardAsync in a worker recur manages', () => {
  it('starts the worker, with its threads', () => {
    const info = proxied.threadInfo();
    expect(info.worker).toMatchObject({ active: 2, reason: null });
    expect(proxied.capabilities).toMatchObject({ async: true, sync: true });
  });

  it('gives forward()\'s numbers bit for bit: LSTM with projection, bidirectional GRU, RNN, packed', async () => {
    const lstm = new LSTM(12, 40, 2, { projSize: 16, seed: 1 }).requiresGrad_(false);
    const gru = new GRU(16, 48, 2, { bidirectional: true, seed: 2 }).requiresGrad_(false);
    const rnn = new RNN(8, 24, 1, { nonlinearity: 'relu', batchFirst: true, seed: 3 }).requiresGrad_(false);
    const x1 = input([9, 4, 12]);
    const [a, [ah, ac]] = lstm.forward(x1);
    const [b, [bh, bc]] = await lstm.forwardAsync(x1);
    expect(same(a, b) && same(ah, bh) && same(ac, bc)).toBe(true);
    const x2 = input([7, 3, 16]);
    const h0 = input([4, 3, 48]);
    const [c, ch] = gru.forward(x2, h0);
    const [d, dh] = await gru.forwardAsync(x2, h0);
    expect(same(c, d) && same(ch, dh)).toBe(true);
    expect(proxied.threadInfo().worker?.lastCall).toBe(2);
    const x3 = input([5, 6, 8]);
    const [e, eh] = rnn.forward(x3);
    const [f, fh] = await rnn.forwardAsync(x3);
    expect(same(e, f) && same(eh, fh)).toBe(true);
    const packed = packPaddedSequence(input([6, 3, 16]), [6, 4, 2]);
    const [p, ph] = gru.forward(packed);
    const [q, qh] = await gru.forwardAsync(packed);
    expect(same(p.data, q.data) && same(ph, qh)).toBe(true);
  });

  it('sends the weights once, not per call', async () => {
    const gru = new GRU(10, 32, 1, { seed: 4 }).requiresGrad_(false);
    const x = input([4, 2, 10]);
    await gru.forwardAsync(x);
    const sent = proxied.threadInfo().worker!.weightsSent;
    for (let i = 0; i < 5; i++) await gru.forwardAsync(x);
    expect(proxied.threadInfo().worker!.weightsSent).toBe(sent);
  });

  it('records gradients on the calling thread when the module trains', async () => {
    const lstm = new LSTM(4, 8, 1, { seed: 5 });
    const [out] = await lstm.forwardAsync(input([3, 2, 4]));
    out.sum().backward();
    expect(lstm.parameters()[0]!.grad).not.toBeNull();
  });

  it('refuses device buffers of another backend and a bad proxy option', async () => {
    expect(() => createWasmBackend({ proxy: 'yes' as unknown as boolean })).toThrow(ArgumentError);
    const buf = proxied.upload!(new Float32Array(4));
    const other = createWasmBackend({ name: 'wasm-other', threads: 1, proxy: true });
    await other.init();
    try {
      const w = other.prepareWeights({
        mode: 'rnn_tanh', inputSize: 2, hiddenSize: 2, projSize: 0,
        weightIh: new Float32Array(4), weightHh: new Float32Array(4), biasIh: null, biasHh: null, weightHr: null,
      });
      const args = {
        weights: w, x: buf, seqLen: 2, batch: 1, h0: null, c0: null,
        out: other.allocate!(4), outOffset: 0, outStride: 2, hN: other.allocate!(2), cN: null, reverse: false, batchSizes: null,
      };
      await expect(other.layerAsync!(args, other.createWorkspace())).rejects.toThrow(BackendError);
      await expect(other.layerAsync!(args, other.createWorkspace())).rejects.toThrow(/x is not a live device buffer of this backend/);
    } finally {
      other.dispose();
      buf.dispose();
    }
  });
});

describe('dispose() with a call in flight', () => {
  it('lets the call finish, then forwardAsync runs on the calling thread with the same numbers', async () => {
    const b = createWasmBackend({ name: 'wasm-proxy-2', threads: 2, proxy: true });
    registerBackend(b);
    await setBackend('wasm-proxy-2');
    try {
      const gru = new GRU(32, 64, 2, { seed: 6 }).requiresGrad_(false);
      const x = input([50, 8, 32]);
      const inFlight = gru.forwardAsync(x);
      b.dispose();
      const [a] = await inFlight;
      expect(b.capabilities).toMatchObject({ async: false });
      await vi.waitFor(() => expect(b.threadInfo().worker).toBeNull());
      const [c] = await gru.forwardAsync(x);
      expect(same(a, c)).toBe(true);
    } finally {
      await setBackend('wasm-proxy');
      unregisterBackend('wasm-proxy-2');
    }
  });
});
