import { describe, expect, it } from 'vitest';
import {
  advanceStep,
  foldBiases,
  inferRecurrentLayout,
  parameterName,
  parseParameterName,
  recurrentParameters,
} from '../src/layout.js';

describe('PyTorch layout', () => {
  it('names and orders parameters as state_dict() does', () => {
    const names = recurrentParameters({ mode: 'lstm', inputSize: 5, hiddenSize: 4, numLayers: 2, bidirectional: true, projSize: 3 });
    expect(names.slice(0, 10).map((p) => `${p.name}${JSON.stringify(p.shape)}`)).toEqual([
      'weight_ih_l0[16,5]',
      'weight_hh_l0[16,3]',
      'bias_ih_l0[16]',
      'bias_hh_l0[16]',
      'weight_hr_l0[3,4]',
      'weight_ih_l0_reverse[16,5]',
      'weight_hh_l0_reverse[16,3]',
      'bias_ih_l0_reverse[16]',
      'bias_hh_l0_reverse[16]',
      'weight_hr_l0_reverse[3,4]',
    ]);
    expect(names[10]).toMatchObject({ name: 'weight_ih_l1', shape: [16, 6], layer: 1, direction: 0 });
    expect(recurrentParameters({ mode: 'gru', inputSize: 2, hiddenSize: 3, bias: false, cell: true }).map((p) => p.name)).toEqual([
      'weight_ih',
      'weight_hh',
    ]);
  });

  it('parses what it names, and nothing else', () => {
    for (const p of recurrentParameters({ mode: 'rnn_tanh', inputSize: 2, hiddenSize: 3, numLayers: 3, bidirectional: true })) {
      expect(parameterName(...(Object.values(parseParameterName(p.name)!).slice(0, 3) as [never, number, 0 | 1]))).toBe(p.name);
    }
    expect(parseParameterName('weight_ih')).toEqual({ role: 'weight_ih', layer: 0, direction: 0, cell: true });
    for (const bad of ['weight_hr', 'weight_ih_l', 'weight_ih_l0_forward', '__proto__', 'encoder.weight_ih_l0', 'weight_ih_l1234567']) {
      expect(parseParameterName(bad)).toBeNull();
    }
  });

  it('infers the layout from shapes', () => {
    const shapes = Object.fromEntries(
      recurrentParameters({ mode: 'lstm', inputSize: 5, hiddenSize: 8, numLayers: 2, bidirectional: true, projSize: 3 }).map((p) => [p.name, p.shape]),
    );
    expect(inferRecurrentLayout(shapes)).toEqual({
      layout: { mode: 'lstm', inputSize: 5, hiddenSize: 8, numLayers: 2, bidirectional: true, projSize: 3, bias: true },
      problem: null,
    });
    expect(inferRecurrentLayout({ weight_ih: [9, 2], weight_hh: [9, 3] }).layout).toEqual({
      mode: 'gru',
      inputSize: 2,
      hiddenSize: 3,
      bias: false,
      cell: true,
    });
    expect(inferRecurrentLayout({ 'rnn.weight_ih_l0': [3, 2] }).problem).toMatch(/not an RNN\/LSTM\/GRU state dict: rnn.weight_ih_l0/);
    expect(inferRecurrentLayout({ weight_ih_l0: [10, 2], weight_hh_l0: [10, 5] }).problem).toMatch(/not 1 \(RNN\), 3 \(GRU\) or 4/);
    expect(inferRecurrentLayout({}).problem).toMatch(/no tensors/);
  });

  it('folds biases, keeping GRU b_hn apart', () => {
    const bi = Float32Array.of(1, 2, 3);
    const bh = Float32Array.of(10, 20, 30);
    const bias = new Float32Array(3);
    const bHn = new Float32Array(1);
    foldBiases('gru', 1, bi, bh, bias, bHn);
    expect([...bias, ...bHn]).toEqual([11, 22, 3, 30]);
    foldBiases('rnn_tanh', 3, null, bh, bias, null);
    expect([...bias]).toEqual([10, 20, 30]);
  });

  it('walks steps forward and in reverse, padded and packed', () => {
    const walk = (T: number, B: number, sizes: Int32Array | null, reverse: boolean) => {
      const rows = sizes ? sizes.reduce((a, b) => a + b, 0) : T * B;
      const c = { row: -1, n: -1 };
      return Array.from({ length: T }, (_, s) => {
        advanceStep(c, s, T, B, rows, sizes, reverse);
        return [c.row, c.n];
      });
    };
    expect(walk(3, 2, null, false)).toEqual([[0, 2], [2, 2], [4, 2]]);
    expect(walk(3, 2, null, true)).toEqual([[4, 2], [2, 2], [0, 2]]);
    const sizes = Int32Array.of(3, 2, 2, 1);
    expect(walk(4, 3, sizes, false)).toEqual([[0, 3], [3, 2], [5, 2], [7, 1]]);
    expect(walk(4, 3, sizes, true)).toEqual([[7, 1], [5, 2], [3, 2], [0, 3]]);
  });
});
