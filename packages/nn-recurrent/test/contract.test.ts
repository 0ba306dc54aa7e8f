// The module side of the backend contract: an asynchronous, device-resident backend (test-only,
// written against the public contract) runs every module through forwardAsync with the numbers of
// the synchronous path; a disposed module refuses to run on every backend; loadStateDict copies into
// the existing tensors and is atomic for any value, also ones that only look like tensors.

import {
  BACKEND_INTERFACE_VERSION,
  type Backend,
  BackendError,
  type DeviceBuffer,
  StateDictError,
  type Tensor,
  randn,
  registerBackend,
  setBackend,
  unregisterBackend,
  zeros,
} from '@recur/core-tensor';
import { jsBackend } from '@recur/kernels-js';
import { afterAll, describe, expect, it } from 'vitest';
import { GRU, LSTM, RNN, packPaddedSequence } from '../src/index.js';
import { BACKENDS } from './backends.js';

/** A buffer "on the device": values the caller can reach only through an awaited read(). */
class FakeDeviceBuffer implements DeviceBuffer {
  readonly backend = 'device';
  disposed = false;
  constructor(readonly data: Float32Array) {}
  get length(): number {
    return this.data.length;
  }
  async read(): Promise<Float32Array> {
    if (this.disposed) throw new BackendError('device: buffer read after dispose');
    return this.data.slice();
  }
  dispose(): void {
    this.disposed = true;
  }
}

const live = new Set<FakeDeviceBuffer>();
const track = (b: FakeDeviceBuffer) => {
  live.add(b);
  const dispose = b.dispose.bind(b);
  b.dispose = () => {
    live.delete(b);
    dispose();
  };
  return b;
};
let layerCalls = 0;

/** The js kernels behind an asynchronous, device-buffer interface, as a GPU backend would present them. */
const deviceBackend: Backend = {
  name: 'device',
  priority: 0,
  interfaceVersion: BACKEND_INTERFACE_VERSION,
  capabilities: { async: true },
  init: async () => {},
  matmul: () => {
    throw new BackendError('device: matmul is asynchronous here');
  },
  prepareWeights: (w) => {
    const inner = jsBackend.prepareWeights(w);
    const { mode, inputSize, hiddenSize, outputSize } = inner;
    return {
      backend: 'device',
      mode,
      inputSize,
      hiddenSize,
      outputSize,
      inner,
      get disposed() {
        return inner.disposed;
      },
      dispose: () => inner.dispose(),
    };
  },
  createWorkspace: () => {
    const inner = jsBackend.createWorkspace();
    return { backend: 'device', training: false, disposed: false, inner, dispose: () => inner.dispose() } as never;
  },
  layer: () => {
    throw new BackendError('device: layer() is asynchronous here; use layerAsync');
  },
  upload: (data) => track(new FakeDeviceBuffer(data.slice())),
  allocate: (n) => track(new FakeDeviceBuffer(new Float32Array(n))),
  layerAsync: async (args, ws) => {
    await Promise.resolve();
    layerCalls++;
    const data = (b: DeviceBuffer | null | undefined) => (b ? (b as FakeDeviceBuffer).data : null);
    jsBackend.layer(
      {
        ...args,
        weights: (args.weights as unknown as { inner: never }).inner,
        x: data(args.x)!,
        h0: data(args.h0),
        c0: data(args.c0),
        out: data(args.out)!,
        hN: data(args.hN)!,
        cN: data(args.cN),
      },
      (ws as unknown as { inner: never }).inner,
    );
  },
};

registerBackend(deviceBackend);
afterAll(() => {
  unregisterBackend('device');
});

describe('an asynchronous, device-resident backend', () => {
  const cases: Array<[string, () => LSTM | GRU | RNN, number[]]> = [
    ['2-layer bidirectional LSTM with projections', () => new LSTM(5, 6, 2, { bidirectional: true, projSize: 3, seed: 1 }), [7, 3, 5]],
    ['batch-first GRU', () => new GRU(4, 5, 2, { batchFirst: true, seed: 2 }), [3, 6, 4]],
    ['unbatched relu RNN', () => new RNN(4, 5, 3, { nonlinearity: 'relu', seed: 3 }), [6, 4]],
  ];

  it.each(cases)('%s: forwardAsync on the device equals forward on js', async (_label, make, shape) => {
    await setBackend('js');
    // Every module's forward takes (x) and returns [out, state]; the union of their overloads does not say so.
    const m = (make().eval() as unknown as GRU).requiresGrad_(false);
    const x = randn(shape, { seed: 5 });
    const [out, state] = m.forward(x) as [Tensor, Tensor | [Tensor, Tensor]];
    await setBackend('device');
    layerCalls = 0;
    const [outD, stateD] = (await m.forwardAsync(x)) as [Tensor, Tensor | [Tensor, Tensor]];
    expect(layerCalls).toBe(m.numLayers * m.numDirections);
    expect(outD.shape).toEqual(out.shape);
    expect(outD.values).toEqual(out.values);
    expect([stateD].flat().map((t) => t.values)).toEqual([state].flat().map((t) => t.values));
    expect(live.size).toBe(0);
    m.dispose();
  });

  it('packed input, initial states and dropout between layers take the device path too', async () => {
    const m = new LSTM(3, 4, 2, { dropout: 0.5, seed: 8 }).requiresGrad_(false);
    const x = packPaddedSequence(randn([5, 3, 3], { seed: 1 }), [5, 3, 2]);
    const h0 = randn([2, 3, 4], { seed: 2 });
    const c0 = randn([2, 3, 4], { seed: 3 });
    await setBackend('device');
    const [, [hD]] = await m.forwardAsync(x, [h0, c0]);
    await setBackend('js');
    const twin = new LSTM(3, 4, 2, { dropout: 0.5, seed: 8 }).requiresGrad_(false);
    const [, [h]] = twin.forward(x, [h0, c0]);
    expect(hD.values).toEqual(h.values);
    expect(live.size).toBe(0);
  });

  it('forward() on an asynchronous backend says to use forwardAsync', async () => {
    await setBackend('device');
    expect(() => new GRU(2, 3).forward(zeros([1, 1, 2]))).toThrow(
      "GRU.forward: backend 'device' runs asynchronously; use await gru.forwardAsync(...)",
    );
    await expect(new GRU(2, 3).forwardAsync(zeros([1, 1, 3]))).rejects.toThrow(/input.size\(-1\) must be equal to inputSize/);
    await expect(new GRU(2, 3).forwardAsync(zeros([1, 1, 2]))).rejects.toThrow(
      "GRU.forwardAsync: backend 'device' cannot record gradients yet; for inference call requiresGrad_(false) on the module, or train on 'wasm' or 'js'",
    );
    await setBackend('js');
  });
});

describe.each(BACKENDS.map((b) => [b.name] as const))('module lifecycle on %s', (name) => {
  it('a disposed module throws the same BackendError for forward, cells and streams', async () => {
    await setBackend(name);
    const lstm = new LSTM(2, 3, { seed: 1 });
    const stream = lstm.stream();
    stream.step(new Float32Array(2));
    lstm.forward(zeros([1, 1, 2]));
    lstm.dispose();
    lstm.dispose();
    for (const call of [() => lstm.forward(zeros([1, 1, 2])), () => stream.step(new Float32Array(2))]) {
      expect(call).toThrow(BackendError);
      expect(call).toThrow('LSTM: used after dispose(); create a new module (and loadStateDict into it)');
    }
    await expect(lstm.forwardAsync(zeros([1, 1, 2]))).rejects.toThrow(/used after dispose/);
  });
});

describe('loadStateDict into existing tensors, all or nothing', () => {
  it('keeps parameter identity, so references held elsewhere see the new weights', () => {
    const m = new GRU(2, 3, { seed: 1 });
    const held = m.parameters();
    const src = new GRU(2, 3, { seed: 2 }).stateDict();
    m.loadStateDict(src);
    expect(m.parameters()).toEqual(held);
    m.parameters().forEach((p, i) => {
      expect(p).toBe(held[i]);
    });
    expect(held[0]!.values).toEqual(src.weight_ih_l0!.values);
  });

  it('the next forward runs on the loaded weights on every backend', async () => {
    for (const b of BACKENDS) {
      await setBackend(b.name);
      const m = new LSTM(3, 4, { seed: 1 });
      const x = randn([2, 1, 3], { seed: 0 });
      m.forward(x);
      const other = new LSTM(3, 4, { seed: 2 });
      m.loadStateDict(other.stateDict());
      expect(m.forward(x)[0].values).toEqual(other.forward(x)[0].values);
    }
    await setBackend('js');
  });

  const lookalike = (shape: number[], data: unknown) => ({ shape, dataSync: () => data });

  it.each([
    ['a look-alike whose data is too short', lookalike([12, 4], new Float32Array(3)), /holds 3 values, expected 48 for shape \[12,4\]/],
    ['a look-alike whose dataSync throws', { shape: [12, 4], dataSync: () => { throw new Error('gone'); } }, /could not be read: gone/],
    ['a look-alike with strings in its data', lookalike([12, 4], Array(48).fill('1')), /holds the string '1' at index 0, expected numbers/],
    ['a shape past 2^53', lookalike([2 ** 64, 2], []), /expected shape \[12,4\], got a shape whose dimensions are not all safe integers \(number 18446744073709552000, number 2\)/],
  ])('rejects %s before changing anything', (_label, bad, message) => {
    const m = new GRU(2, 4, { seed: 1 });
    const before = m.stateDict();
    const sd: Record<string, unknown> = new GRU(2, 4, { seed: 2 }).stateDict();
    sd.weight_hh_l0 = bad; // after weight_ih_l0, which a half-applied load would already have replaced
    sd.weight_ih_l0 = new GRU(2, 4, { seed: 3 }).stateDict().weight_ih_l0;
    const keys = Object.keys(sd);
    expect(keys.indexOf('weight_ih_l0')).toBeLessThan(keys.indexOf('weight_hh_l0'));
    sd.bias_ih_l0 = lookalike([12], new Float32Array(12)); // a valid look-alike among them
    expect(() => m.loadStateDict(sd as never)).toThrow(StateDictError);
    expect(() => m.loadStateDict(sd as never)).toThrow(message);
    expect(m.stateDict()).toEqual(before);
  });

  it('accepts a valid look-alike (a tensor of another copy of recur)', () => {
    const m = new RNN(1, 1, { seed: 1 });
    m.loadStateDict({
      weight_ih_l0: { shape: [1, 1], dataSync: () => Float32Array.of(2) },
      weight_hh_l0: { shape: [1, 1], dataSync: () => Float32Array.of(0) },
      bias_ih_l0: { shape: [1], dataSync: () => Float32Array.of(0) },
      bias_hh_l0: { shape: [1], dataSync: () => Float32Array.of(0) },
    } as never);
    expect(m.forward(zeros([1, 1]).reshape([1, 1]))[0].values[0]).toBe(0);
    expect(m.stateDict().weight_ih_l0!.values[0]).toBe(2);
  });

  it('rejects bad arguments and keys with clear errors', () => {
    const m = new RNN(2, 3);
    const sd = m.stateDict();
    expect(() => m.loadStateDict(sd, null as never)).toThrow('RNN.loadStateDict: expected options as an object { strict?, prefix? }, got null');
    expect(() => m.loadStateDict(sd, { strict: 'no' } as never)).toThrow("expected strict as a boolean, got the string 'no'");
    expect(() => m.loadStateDict(null as never)).toThrow('RNN.loadStateDict: expected a state dict object mapping names to tensors, got null');
    const map = new Map<unknown, Tensor>(Object.entries(sd));
    map.set(7, zeros([1]));
    expect(() => m.loadStateDict(map as never)).toThrow(/keys must be strings, got number 7/);
  });

  it('reports missing keys with the prefix, as the keys the state dict lacks', () => {
    const m = new GRU(2, 3);
    const sd = m.stateDict();
    const r = m.loadStateDict({ 'enc.weight_ih_l0': sd.weight_ih_l0!, 'enc.extra': zeros([1]) }, { prefix: 'enc.', strict: false });
    expect(r.missingKeys).toEqual(['enc.weight_hh_l0', 'enc.bias_ih_l0', 'enc.bias_hh_l0']);
    expect(r.unexpectedKeys).toEqual(['enc.extra']);
  });

  it('suggests the prefix a whole model state dict plainly has', () => {
    const sd = Object.fromEntries(Object.entries(new LSTM(2, 3).stateDict()).map(([k, v]) => [`encoder.rnn.${k}`, v]));
    expect(() => new LSTM(2, 3).loadStateDict(sd)).toThrow(/try \{ prefix: 'encoder\.rnn\.' \}/);
  });
});
