// fromKeras on layers models saved by TensorFlow.js (LSTM, Bidirectional LSTM, SimpleRNN relu and
// without bias, each run by tfjs) and on a Keras-format GRU(reset_after=True) model checked against
// Keras's GRU equations: every module reproduces the tool's outputs on every backend.

import { RecurError, type Tensor, setBackend } from '@recur/core-tensor';
import { GRU, LSTM, RNN } from '@recur/nn-recurrent';
import { beforeAll, describe, expect, it } from 'vitest';
import { ModelFileError, fromKeras } from '../src/index.js';
import { BACKENDS } from './backends.js';
import { type Expected, expectClose, fixtureBytes, fixtureJson, toTensor } from './fixtures.js';

interface KerasExpected {
  x: Expected;
  layers: Array<{ out: Expected; h?: Expected }>;
}

const load = (name: string) => fromKeras(fixtureJson<unknown>(`${name}.json`), fixtureBytes(`${name}.bin`));
const forward = (module: unknown, x: Tensor) => (module as { forward(x: Tensor): [Tensor, Tensor | [Tensor, Tensor]] }).forward(x);

describe.each(BACKENDS.map((b) => b.name))('fromKeras parity on %s', (backend) => {
  beforeAll(async () => {
    await setBackend(backend);
  });

  it.each([
    ['keras_stack', [['lstm', 'LSTM'], ['bi_lstm', 'Bidirectional'], ['rnn_relu', 'SimpleRNN'], ['rnn_no_bias', 'SimpleRNN']]],
    ['keras_gru_reset_after', [['gru', 'GRU'], ['bidirectional', 'Bidirectional']]],
  ])('%s: each layer on the previous layer output', (name, layers) => {
    const expected = fixtureJson<KerasExpected>(`${name}.expected.json`);
    const found = load(name);
    expect(found.map((l) => [l.name, l.kind])).toEqual(layers);
    let x = toTensor(expected.x);
    found.forEach((layer, i) => {
      const [out, state] = forward(layer.module, x);
      expectClose(`${layer.name} output`, out, expected.layers[i]!.out);
      const h = expected.layers[i]!.h;
      if (h) expectClose(`${layer.name} h`, Array.isArray(state) ? state[0] : state, h);
      x = toTensor(expected.layers[i]!.out);
    });
  });
});

describe('fromKeras: kind names the class of module (the result type narrows on it)', () => {
  it.each(['keras_stack', 'keras_gru_reset_after'])('%s', (name) => {
    const classes = { LSTM, GRU, SimpleRNN: RNN };
    for (const layer of load(name)) {
      if (layer.kind === 'Bidirectional') expect(layer.module.bidirectional).toBe(true);
      else expect(layer.module).toBeInstanceOf(classes[layer.kind]);
    }
  });
});

describe('fromKeras: what it refuses, with the reason', () => {
  const refusal = (run: () => unknown): string => {
    try {
      run();
    } catch (e) {
      expect(e).toBeInstanceOf(ModelFileError);
      expect(RecurError.isInstance(e)).toBe(true);
      return (e as Error).message;
    }
    throw new Error('expected a refusal');
  };

  it('a GRU with reset_after=false (tfjs GRU)', () => {
    expect(refusal(() => load('refuse_keras_gru_reset_before'))).toMatch(
      /layer 'gru_GRU1': reset_after=false is not supported: that GRU applies the reset gate before the recurrent matrix/,
    );
  });

  it("hard_sigmoid, tfjs LSTM's default recurrent activation", () => {
    expect(refusal(() => load('refuse_keras_hard_sigmoid'))).toMatch(/recurrent_activation 'hard_sigmoid' is not supported: PyTorch's LSTM gates use the logistic sigmoid/);
  });

  it('weight data that does not match the manifest', () => {
    const json = fixtureJson<unknown>('keras_stack.json');
    const bin = fixtureBytes('keras_stack.bin');
    expect(refusal(() => fromKeras(json, bin.subarray(0, bin.length - 4)))).toMatch(/past the \d+ bytes of weightData|describes \d+ bytes, weightData has \d+/);
    expect(refusal(() => fromKeras(json, new Uint8Array(bin.length + 4)))).toMatch(/weightsManifest describes \d+ bytes, weightData has \d+/);
  });

  it('merge modes other than concat, and go_backwards', () => {
    const edit = (f: (layers: Array<{ config: Record<string, unknown> }>) => void) => {
      const json = fixtureJson<{ modelTopology: { config: { layers: Array<{ config: Record<string, unknown> }> } } }>('keras_stack.json');
      f(json.modelTopology.config.layers);
      return () => fromKeras(json, fixtureBytes('keras_stack.bin'));
    };
    expect(refusal(edit((l) => (l[1]!.config.merge_mode = 'sum')))).toMatch(/layer 'bi_lstm': merge_mode 'sum' is not supported: PyTorch's bidirectional output concatenates/);
    expect(refusal(edit((l) => (l[0]!.config.go_backwards = true)))).toMatch(/go_backwards=true is not supported: PyTorch has no reverse-only layer/);
    expect(refusal(edit((l) => (l[2]!.config.activation = 'selu')))).toMatch(/activation 'selu' is not supported/);
  });

  it('model.json text that is not JSON, and a modelTopology that is missing', () => {
    expect(refusal(() => fromKeras('{"modelTopology":', new Uint8Array(0)))).toMatch(/expected model\.json text, got text that is not JSON/);
    expect(refusal(() => fromKeras({ weightsManifest: [] }, new Uint8Array(0)))).toMatch(/expected model\.json with a modelTopology object, got nothing/);
  });
});
