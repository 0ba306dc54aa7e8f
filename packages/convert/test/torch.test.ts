// loadTorch on real torch.save files: every dtype, views with strides and offsets, shared storages,
// nested checkpoints, pickle protocol 4; the loaded weights reproduce PyTorch's outputs on every
// backend. Files PyTorch writes that are not state dicts are refused with what was found.

import { RecurError, type Tensor, setBackend } from '@recur/core-tensor';
import { GRU, LSTM, LSTMCell, RNN } from '@recur/nn-recurrent';
import { beforeAll, describe, expect, it } from 'vitest';
import { ModelFileError, loadTorch } from '../src/index.js';
import { BACKENDS } from './backends.js';
import { type Expected, expectClose, fixtureBytes, fixtureJson, toTensor } from './fixtures.js';

interface TorchCase {
  module: 'LSTM' | 'GRU' | 'RNN' | 'LSTMCell';
  options: Record<string, unknown>;
  prefix: string;
  x: Expected;
  out?: Expected;
  h: Expected;
  c?: Expected;
}

const CASES = fixtureJson<Record<string, TorchCase>>('torch-expected.json');
const CONSTRUCTORS = { LSTM, GRU, RNN, LSTMCell };

describe.each(BACKENDS.map((b) => b.name))('loadTorch parity with PyTorch on %s', (backend) => {
  beforeAll(async () => {
    await setBackend(backend);
  });

  it.each(Object.keys(CASES))('%s', (file) => {
    const c = CASES[file]!;
    const Ctor = CONSTRUCTORS[c.module] as new (o: object) => LSTM;
    const m = new Ctor({ ...c.options, seed: 0 }).eval();
    const sd = loadTorch(fixtureBytes(file));
    const { missingKeys } = m.loadStateDict(sd, { prefix: c.prefix, strict: c.prefix === '' });
    expect(missingKeys).toEqual([]);
    const x = toTensor(c.x);
    if (c.module === 'LSTMCell') {
      const [h, cc] = (m as unknown as LSTMCell).forward(x);
      expectClose('h', h, c.h);
      expectClose('c', cc, c.c!);
      return;
    }
    const [out, state] = m.forward(x) as unknown as [Tensor, Tensor | [Tensor, Tensor]];
    expectClose('out', out, c.out!);
    const [h, cc] = Array.isArray(state) ? state : [state];
    expectClose('h', h, c.h);
    if (c.c) expectClose('c', cc!, c.c);
  });
});

describe('loadTorch: what a checkpoint holds', () => {
  it('reads views (strides, offsets, one storage twice) as the values PyTorch sees', () => {
    const sd = loadTorch(fixtureBytes('checkpoint_views.pt'));
    expect(Object.getPrototypeOf(sd)).toBeNull();
    expect(Object.keys(sd)).toEqual(['model.rnn.weight_ih_l0', 'model.rnn.weight_hh_l0', 'model.rnn.bias_ih_l0', 'model.rnn.bias_hh_l0', 'model.head.weight']);
    expect(sd['model.rnn.weight_ih_l0']!.shape).toEqual([12, 3]);
    expect(Array.from(sd['model.head.weight']!.values)).toEqual(Array.from(sd['model.rnn.bias_ih_l0']!.values));
    expect(sd['model.head.weight']!.values).not.toBe(sd['model.rnn.bias_ih_l0']!.values);
  });

  it('accepts an ArrayBuffer and a view into a larger buffer', () => {
    const bytes = fixtureBytes('gru_f16.pt');
    const padded = new Uint8Array(bytes.length + 16);
    padded.set(bytes, 8);
    const a = loadTorch(bytes.slice().buffer);
    const b = loadTorch(padded.subarray(8, 8 + bytes.length));
    expect(Array.from(b.weight_hh_l0!.values)).toEqual(Array.from(a.weight_hh_l0!.values));
  });
});

describe('loadTorch: files it refuses', () => {
  const refusal = (bytes: Uint8Array): string => {
    try {
      loadTorch(bytes);
    } catch (e) {
      expect(e).toBeInstanceOf(ModelFileError);
      expect(RecurError.isInstance(e)).toBe(true);
      return (e as Error).message;
    }
    throw new Error('expected a refusal');
  };

  it('a pickle naming os.system, by name, without running it', () => {
    expect(refusal(fixtureBytes('refuse_global.pt'))).toMatch(/names the global 'posix\.system', which a state dict never needs; recur reads only collections\.OrderedDict/);
  });

  it('a legacy (pre-1.6) file, saying how to convert it', () => {
    expect(refusal(fixtureBytes('refuse_legacy.pt'))).toMatch(/expected the zip format of torch\.save .* got a bare pickle: a legacy torch\.save file/);
  });

  it('a TorchScript archive', () => {
    expect(refusal(fixtureBytes('refuse_torchscript.pt'))).toMatch(/got a TorchScript archive \(torch\.jit\.save\)/);
  });

  it('a safetensors file, an ONNX file and a model.json, naming the loader to use', () => {
    const st = new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7d]);
    expect(refusal(st)).toMatch(/got a safetensors file: use loadSafetensors from @recur\/nn-recurrent/);
    expect(refusal(fixtureBytes('lstm_bi.onnx'))).toMatch(/use fromOnnx/);
    expect(refusal(fixtureBytes('keras_stack.json'))).toMatch(/use fromKeras/);
  });

  it('a value that is not bytes', () => {
    expect(() => loadTorch('model.pt' as never)).toThrow(/loadTorch: expected the file as a Uint8Array or ArrayBuffer, got the string 'model\.pt'/);
  });
});
