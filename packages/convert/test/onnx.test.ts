// fromOnnx on graphs exported by torch.onnx.export and on hand-built control flow (If, Loop with
// weights from three scopes): each module reproduces onnxruntime's outputs on every backend.
// Graphs holding what PyTorch's layers cannot express are refused, naming the node and attribute.

import { RecurError, type Tensor, setBackend } from '@recur/core-tensor';
import { GRU, LSTM, RNN } from '@recur/nn-recurrent';
import { beforeAll, describe, expect, it } from 'vitest';
import { ModelFileError, fromOnnx } from '../src/index.js';
import { BACKENDS } from './backends.js';
import { type Expected, expectClose, fixtureBytes, fixtureJson, toTensor } from './fixtures.js';

type Outputs = Record<string, Expected>;
const CASES = fixtureJson<Record<string, { x: Expected; ort: Record<string, Outputs> }>>('onnx-expected.json');

/** `t` with the shape the graph gives the same values (ONNX's [T, D, B, H] or a Loop's extra axis). */
const as = (t: Tensor, e: Expected): Tensor => t.reshape(e.shape);

const forward = (module: unknown, x: Tensor) => (module as { forward(x: Tensor): [Tensor, Tensor | [Tensor, Tensor]] }).forward(x);

describe.each(BACKENDS.map((b) => b.name))('fromOnnx parity with onnxruntime on %s', (backend) => {
  beforeAll(async () => {
    await setBackend(backend);
  });

  it('a bidirectional LSTM from torch.onnx.export', () => {
    const { x, ort } = CASES['lstm_bi.onnx']!;
    const nodes = fromOnnx(fixtureBytes('lstm_bi.onnx'));
    expect(nodes.map((n) => n.op)).toEqual(['LSTM']);
    const [out, [h, c]] = forward(nodes[0]!.module, toTensor(x)) as [Tensor, [Tensor, Tensor]];
    expectClose('out', out, ort.graph!.out!);
    expectClose('h', h, ort.graph!.h!);
    expectClose('c', c, ort.graph!.c!);
  });

  it('a two-layer GRU from torch.onnx.export: two GRU nodes, chained', () => {
    const { x, ort } = CASES['gru_2layer.onnx']!;
    const nodes = fromOnnx(fixtureBytes('gru_2layer.onnx'));
    expect(nodes.map((n) => n.op)).toEqual(['GRU', 'GRU']);
    const [o1, h1] = forward(nodes[0]!.module, toTensor(x)) as [Tensor, Tensor];
    const [o2, h2] = forward(nodes[1]!.module, o1) as [Tensor, Tensor];
    expectClose('out', o2, ort.graph!.out!);
    const h = ort.graph!.h!;
    const half = h.data.length / 2;
    expectClose('h layer 0', h1, { shape: [1, ...h.shape.slice(1)], data: h.data.slice(0, half) });
    expectClose('h layer 1', h2, { shape: [1, ...h.shape.slice(1)], data: h.data.slice(half) });
  });

  it('a batch-first relu RNN from torch.onnx.export (the exporter transposes around the node)', () => {
    const { x, ort } = CASES['rnn_relu_batch_first.onnx']!;
    const [node] = fromOnnx(fixtureBytes('rnn_relu_batch_first.onnx'));
    expect(node!.op).toBe('RNN');
    const [out, h] = forward(node!.module, toTensor(x).transpose(0, 1)) as [Tensor, Tensor];
    expectClose('out', out.transpose(0, 1), ort.graph!.out!);
    expectClose('h', h, ort.graph!.h!);
  });

  it('nodes inside If and Loop, weights from initializers of three scopes, Constants and float_data', () => {
    const { x, ort } = CASES['control_flow.onnx']!;
    const found = fromOnnx(fixtureBytes('control_flow.onnx'));
    // In the order the file stores the If's attributes (onnx.helper sorts them: else_branch first).
    expect(found.map((n) => [n.name, n.path, n.op])).toEqual([
      ['music_gru', 'pick/else_branch/Loop_3/body/music_gru', 'GRU'],
      ['speech_lstm', 'pick/then_branch/speech_lstm', 'LSTM'],
    ]);
    const nodes = [found[1]!, found[0]!];
    const [lo, [lh]] = forward(nodes[0]!.module, toTensor(x)) as [Tensor, [Tensor, Tensor]];
    expectClose('then Y', as(lo, ort.then_branch!.Y!), ort.then_branch!.Y!);
    expectClose('then Y_h', lh, ort.then_branch!.Y_h!);
    const [go, gh] = forward(nodes[1]!.module, toTensor(x)) as [Tensor, Tensor];
    expectClose('else Y', as(go, ort.else_branch!.Y!), ort.else_branch!.Y!);
    expectClose('else Y_h', as(gh, ort.else_branch!.Y_h!), ort.else_branch!.Y_h!);
  });
});

describe('fromOnnx: op names the class of module (the result type narrows on it)', () => {
  it.each(['lstm_bi.onnx', 'gru_2layer.onnx', 'rnn_relu_batch_first.onnx', 'control_flow.onnx'])('%s', (file) => {
    const classes = { LSTM, GRU, RNN };
    const nodes = fromOnnx(fixtureBytes(file));
    expect(nodes.length).toBeGreaterThan(0);
    for (const node of nodes) expect(node.module).toBeInstanceOf(classes[node.op]);
    // Narrowed by op: an LSTM's forward returns [out, [h, c]] without a cast.
    const lstm = nodes.find((n) => n.op === 'LSTM');
    if (lstm?.op === 'LSTM') expect(lstm.module.projSize).toBe(0);
  });
});

describe('fromOnnx: nodes it refuses, naming the attribute', () => {
  const refusal = (file: string): string => {
    try {
      fromOnnx(fixtureBytes(file));
    } catch (e) {
      expect(e).toBeInstanceOf(ModelFileError);
      expect(RecurError.isInstance(e)).toBe(true);
      return (e as Error).message;
    }
    throw new Error(`expected ${file} to be refused`);
  };

  it.each([
    ['refuse_lstm_peephole.onnx', /LSTM node 'bad_node': input P \(peephole weights\) is not supported/],
    ['refuse_lstm_clip.onnx', /LSTM node 'bad_node': attribute clip is not supported/],
    ['refuse_lstm_input_forget.onnx', /attribute input_forget=1 is not supported/],
    ['refuse_lstm_activations.onnx', /attribute activations=\[sigmoid, relu, tanh\] is not supported: PyTorch's LSTM computes \[sigmoid, tanh, tanh\]/],
    ['refuse_gru_lbr0.onnx', /GRU node 'bad_node': attribute linear_before_reset=0 is not supported: PyTorch's GRU applies r to \(W_hn h \+ b_hn\)/],
    ['refuse_lstm_reverse.onnx', /attribute direction='reverse' is not supported: PyTorch has no reverse-only layer/],
  ])('%s', (file, message) => {
    expect(refusal(file)).toMatch(message);
  });

  it('files of other kinds, naming the loader to use', () => {
    expect(() => fromOnnx(fixtureBytes('gru_f16.pt'))).toThrow(/fromOnnx: expected an ONNX model, got a zip archive/);
    expect(() => fromOnnx(fixtureBytes('keras_stack.json'))).toThrow(/use fromKeras/);
    expect(() => fromOnnx(new Uint8Array([0x0a, 0xff, 0xff]))).toThrow(ModelFileError);
  });

  it('a graph without recurrent nodes gives an empty list', () => {
    expect(fromOnnx(new Uint8Array([0x08, 0x07, 0x3a, 0x00]))).toEqual([]);
  });
});
