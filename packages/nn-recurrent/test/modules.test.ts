// The modules' behaviour on every backend: PyTorch's shapes and identities, options, dropout,
// initialisation, state dicts and the errors PyTorch raises.

import '@recur/conformance';
import { Tensor, randn, setBackend, tensor, zeros } from '@recur/core-tensor';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { GRU, GRUCell, LSTM, LSTMCell, RNN, RNNCell } from '../src/index.js';
import { BACKENDS } from './backends.js';
import { at, columns } from './helpers.js';

describe.each(BACKENDS.map((b) => b.name))('modules on %s', (backend) => {
  beforeAll(async () => {
    await setBackend(backend);
  });

  describe('shapes and identities of the seed examples', () => {
    it('RNN(5, 10, 2) on [6, 3, 5]: out[-1] == hN[-1]', () => {
      const rnn = new RNN(5, 10, 2, { seed: 1 });
      const [out, hN] = rnn.forward(randn([6, 3, 5], { seed: 0 }));
      expect(out.shape).toEqual([6, 3, 10]);
      expect(hN.shape).toEqual([2, 3, 10]);
      expect(at(out, -1)).toEqual(at(hN, -1));
    });

    it('bidirectional RNN: out[-1, :, :H] == hN[-2] and out[0, :, H:] == hN[-1]', () => {
      for (const numLayers of [1, 2]) {
        const bi = new RNN(5, 10, numLayers, { bidirectional: true, seed: 2 });
        const [out, hN] = bi.forward(randn([6, 3, 5], { seed: 0 }));
        expect(out.shape).toEqual([6, 3, 20]);
        expect(hN.shape).toEqual([2 * numLayers, 3, 10]);
        expect(columns(at(out, -1), 20, 0, 10)).toEqual(at(hN, -2));
        expect(columns(at(out, 0), 20, 10, 10)).toEqual(at(hN, -1));
        // ...and the reverse half of the last step is not the final reverse state.
        expect(columns(at(out, -1), 20, 10, 10)).not.toEqual(at(hN, -1));
      }
    });

    it('LSTM(50, 100, 2) on [10, 3, 50] and the options-object form', () => {
      const lstm = new LSTM({ inputSize: 50, hiddenSize: 100, numLayers: 2, seed: 3 });
      const [out, [h, c]] = lstm.forward(randn([10, 3, 50], { seed: 0 }));
      expect(out.shape).toEqual([10, 3, 100]);
      expect(h.shape).toEqual([2, 3, 100]);
      expect(c.shape).toEqual([2, 3, 100]);
      expect(at(out, -1)).toEqual(at(h, -1));
    });

    it('GRU(10, 20, 2) on [3, 32, 10]', () => {
      const [out, hN] = new GRU(10, 20, 2, { seed: 4 }).forward(randn([3, 32, 10], { seed: 0 }));
      expect(out.shape).toEqual([3, 32, 20]);
      expect(hN.shape).toEqual([2, 32, 20]);
      expect(at(out, -1)).toEqual(at(hN, -1));
    });

    it('batchFirst LSTM on [1, 10, 3]: output batch first, h and c never', () => {
      const lstm = new LSTM(3, 5, { batchFirst: true, seed: 5 });
      const [out, [h, c]] = lstm.forward(randn([1, 10, 3], { seed: 0 }));
      expect(out.shape).toEqual([1, 10, 5]);
      expect(h.shape).toEqual([1, 1, 5]);
      expect(c.shape).toEqual([1, 1, 5]);
      expect(at(out, 0, -1)).toEqual(at(h, -1, 0));
    });

    it('batchFirst gives the transpose of the time-major result', () => {
      const a = new GRU(3, 4, 2, { bidirectional: true, seed: 6 });
      const b = new GRU(3, 4, 2, { bidirectional: true, batchFirst: true, seed: 6 });
      const x = randn([5, 2, 3], { seed: 1 });
      const xBF = new Tensor(transpose01(x.values, 5, 2, 3), [2, 5, 3]);
      const [outA, hA] = a.forward(x);
      const [outB, hB] = b.forward(xBF);
      expect(outB.values).toEqual(transpose01(outA.values, 5, 2, 8));
      expect(hB.values).toEqual(hA.values);
    });

    it('projSize LSTM: out and hN use projSize, cN hiddenSize', () => {
      const lstm = new LSTM(4, 8, 2, { projSize: 3, bidirectional: true, seed: 7 });
      const [out, [h, c]] = lstm.forward(randn([5, 2, 4], { seed: 0 }));
      expect(out.shape).toEqual([5, 2, 6]);
      expect(h.shape).toEqual([4, 2, 3]);
      expect(c.shape).toEqual([4, 2, 8]);
      expect(Object.keys(lstm.stateDict())).toContain('weight_hr_l1_reverse');
    });

    it('unbatched input [T, I] gives unbatched outputs', () => {
      const [out, [h, c]] = new LSTM(5, 7, 2, { seed: 8 }).forward(randn([6, 5], { seed: 0 }));
      expect(out.shape).toEqual([6, 7]);
      expect(h.shape).toEqual([2, 7]);
      expect(c.shape).toEqual([2, 7]);
      const [o2, h2] = new RNN(5, 7, 1, { bidirectional: true, seed: 8 }).forward(randn([6, 5], { seed: 0 }), zeros([2, 7]));
      expect(o2.shape).toEqual([6, 14]);
      expect(h2.shape).toEqual([2, 7]);
    });

    it('unbatched equals a batch of one', () => {
      const gru = new GRU(3, 4, 2, { seed: 9 });
      const x = randn([6, 3], { seed: 2 });
      const [o1, h1] = gru.forward(x);
      const [o2, h2] = gru.forward(x.reshape([6, 1, 3]));
      expect(o1.values).toEqual(o2.values);
      expect(h1.values).toEqual(h2.values);
    });

    it('cells take [B, I] or [I] and default to a zero state', () => {
      const cell = new LSTMCell(4, 2, { seed: 10 });
      const [h, c] = cell.forward(randn([3, 4], { seed: 0 }));
      expect(h.shape).toEqual([3, 2]);
      expect(c.shape).toEqual([3, 2]);
      const [h1] = cell.forward(randn([4], { seed: 0 }), [zeros([2]), zeros([2])]);
      expect(h1.shape).toEqual([2]);
      expect(new GRUCell(4, 2).forward(tensor([1, 2, 3, 4])).shape).toEqual([2]);
      const rc = new RNNCell(4, 2, { seed: 11 });
      const explicit = rc.forward(tensor([[1, 2, 3, 4]]), zeros([1, 2]));
      expect(rc.forward(tensor([[1, 2, 3, 4]])).values).toEqual(explicit.values);
    });

    it('a cell stepped by hand equals the one-layer module with the same weights', () => {
      const cell = new GRUCell(3, 4, { seed: 12 });
      const gru = new GRU(3, 4, { seed: 99 });
      gru.loadStateDict(
        Object.fromEntries(Object.entries(cell.stateDict()).map(([k, v]) => [`${k}_l0`, v])),
      );
      const x = randn([5, 2, 3], { seed: 3 });
      const [out] = gru.forward(x);
      let h: Tensor | undefined;
      for (let t = 0; t < 5; t++) {
        h = cell.forward(new Tensor(at(x, t), [2, 3]), h);
        expect(h.values).toEqual(at(out, t));
      }
    });
  });

  describe('laws', () => {
    it('a bidirectional layer is a forward layer plus a reverse layer on the flipped input', () => {
      fc.assert(
        fc.property(
          fc.constantFrom('RNN', 'LSTM', 'GRU'),
          fc.integer({ min: 1, max: 6 }),
          fc.integer({ min: 1, max: 3 }),
          fc.integer({ min: 0, max: 1000 }),
          (kind, T, B, seed) => {
            const Ctor = { RNN, LSTM, GRU }[kind as 'RNN'];
            const bi = new Ctor(3, 4, 1, { bidirectional: true, seed });
            const sd = bi.stateDict();
            const fwd = new Ctor(3, 4, { seed: 0 });
            const rev = new Ctor(3, 4, { seed: 0 });
            const pick = (sfx: string) =>
              Object.fromEntries(Object.entries(sd).filter(([k]) => k.endsWith(sfx)).map(([k, v]) => [k.replace('_reverse', ''), v]));
            fwd.loadStateDict(pick('_l0'));
            rev.loadStateDict(pick('_l0_reverse'));
            const x = randn([T, B, 3], { seed: seed + 1 });
            const flip = (t: Tensor, F: number) => {
              const out = new Float32Array(t.size);
              for (let s = 0; s < T; s++) out.set(at(t, s), (T - 1 - s) * B * F);
              return new Tensor(out, [T, B, F]);
            };
            const [outBi] = (bi as RNN).forward(x);
            const [outF] = (fwd as RNN).forward(x);
            const [outR] = (rev as RNN).forward(flip(x, 3));
            expect(columns(outBi.values, 8, 0, 4)).toBeAllclose(outF.values, { atol: 1e-6 });
            expect(columns(outBi.values, 8, 4, 4)).toBeAllclose(flip(outR, 4).values, { atol: 1e-6 });
          },
        ),
        { numRuns: 30 },
      );
    });
  });

  describe('training mode and dropout', () => {
    it('modules start in training mode; eval() and train() switch it', () => {
      const m = new LSTM(2, 3);
      expect(m.training).toBe(true);
      expect(m.eval().training).toBe(false);
      expect(m.train().training).toBe(true);
    });

    it('dropout applies between layers, only in training, and is seeded', () => {
      const x = randn([4, 2, 3], { seed: 0 });
      const make = () => new GRU(3, 5, 3, { dropout: 0.5, seed: 13 });
      const [evalOut] = make().eval().forward(x);
      const [trainA] = make().forward(x);
      const [trainB] = make().forward(x);
      expect(trainA.values).not.toEqual(evalOut.values);
      expect(trainA.values).toEqual(trainB.values);
      // One layer: nothing lies between layers, so training equals eval.
      const one = new GRU(3, 5, 1, { dropout: 0.5, seed: 14 });
      expect(one.forward(x)[0].values).toEqual(one.eval().forward(x)[0].values);
      // dropout 0 in training equals eval.
      const none = new LSTM(3, 5, 2, { seed: 15 });
      expect(none.forward(x)[0].values).toEqual(none.eval().forward(x)[0].values);
    });
  });
});

describe('initialisation and parameters', () => {
  it("uses PyTorch's U(-1/sqrt(H), 1/sqrt(H)) and is deterministic for a seed", () => {
    const a = new LSTM(3, 16, 2, { seed: 1 });
    const bound = 1 / Math.sqrt(16);
    for (const p of a.parameters()) {
      const v = Array.from(p.values);
      expect(Math.max(...v)).toBeLessThanOrEqual(bound);
      expect(Math.min(...v)).toBeGreaterThanOrEqual(-bound);
      expect(Math.max(...v) - Math.min(...v)).toBeGreaterThan(bound);
    }
    expect(new LSTM(3, 16, 2, { seed: 1 }).stateDict()).toEqual(a.stateDict());
    expect(new LSTM(3, 16, 2, { seed: 2 }).stateDict().weight_ih_l0!.values).not.toEqual(a.stateDict().weight_ih_l0!.values);
  });

  it("names and orders parameters as PyTorch's state_dict", () => {
    const lstm = new LSTM(4, 6, 2, { bidirectional: true, projSize: 3 });
    const names = lstm.namedParameters().map(([n]) => n);
    expect(names.slice(0, 10)).toEqual([
      'weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0', 'weight_hr_l0',
      'weight_ih_l0_reverse', 'weight_hh_l0_reverse', 'bias_ih_l0_reverse', 'bias_hh_l0_reverse', 'weight_hr_l0_reverse',
    ]);
    expect(names).toHaveLength(20);
    const sd = lstm.stateDict();
    expect(sd.weight_ih_l0!.shape).toEqual([24, 4]);
    expect(sd.weight_hh_l0!.shape).toEqual([24, 3]);
    expect(sd.weight_ih_l1!.shape).toEqual([24, 6]);
    expect(sd.weight_hr_l1_reverse!.shape).toEqual([3, 6]);
    expect(Object.keys(new GRU(2, 3, { bias: false }).stateDict())).toEqual(['weight_ih_l0', 'weight_hh_l0']);
    expect(Object.keys(new RNNCell(2, 3).stateDict())).toEqual(['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh']);
    expect(lstm.parameters()).toHaveLength(20);
  });

  it('stateDict returns copies', () => {
    const m = new RNN(2, 3, { seed: 1 });
    const sd = m.stateDict();
    sd.weight_ih_l0!.values.fill(7);
    expect(m.stateDict().weight_ih_l0!.values[0]).not.toBe(7);
  });
});

describe('loadStateDict', () => {
  it('changes the output and can be round-tripped', () => {
    const a = new LSTM(3, 4, { seed: 1 });
    const b = new LSTM(3, 4, { seed: 2 });
    const x = randn([5, 2, 3], { seed: 0 });
    expect(b.forward(x)[0].values).not.toEqual(a.forward(x)[0].values);
    b.loadStateDict(a.stateDict());
    expect(b.forward(x)[0].values).toEqual(a.forward(x)[0].values);
  });

  it('lists missing, unexpected and mis-shaped keys in one error and applies nothing', () => {
    const m = new LSTM(5, 10, { seed: 1 });
    const x = randn([3, 1, 5], { seed: 0 });
    const before = m.forward(x)[0].values;
    const sd = new LSTM(5, 10, { seed: 2 }).stateDict();
    sd.weight_ih_l0 = zeros([40, 6]);
    delete sd.bias_hh_l0;
    sd.extra = zeros([1]);
    expect(() => m.loadStateDict(sd)).toThrow(
      'LSTM.loadStateDict: 3 problems: weight_ih_l0 expected shape [40,5], got [40,6]; missing key bias_hh_l0 (expected shape [40]); unexpected key extra',
    );
    expect(m.forward(x)[0].values).toEqual(before);
  });

  it('names the one problem as API.md shows', () => {
    const sd = new LSTM(5, 10).stateDict();
    sd.weight_ih_l0 = zeros([40, 6]);
    expect(() => new LSTM(5, 10).loadStateDict(sd)).toThrow('LSTM.loadStateDict: weight_ih_l0 expected shape [40,5], got [40,6]');
  });

  it('non-strict loads what matches and reports the rest; a prefix selects a submodule', () => {
    const m = new GRU(2, 3, { seed: 1 });
    const src = new GRU(2, 3, { seed: 2 }).stateDict();
    const r = m.loadStateDict({ weight_ih_l0: src.weight_ih_l0!, other: zeros([2]) }, { strict: false });
    expect(r.missingKeys).toEqual(['weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0']);
    expect(r.unexpectedKeys).toEqual(['other']);
    expect(m.stateDict().weight_ih_l0).toEqual(src.weight_ih_l0);
    const prefixed = Object.fromEntries(Object.entries(src).map(([k, v]) => [`encoder.rnn.${k}`, v]));
    m.loadStateDict({ ...prefixed, 'decoder.w': zeros([1]) }, { prefix: 'encoder.rnn.' });
    expect(m.stateDict()).toEqual(src);
  });

  it('rejects non-tensors', () => {
    const sd: Record<string, unknown> = new RNN(2, 3).stateDict();
    sd.weight_ih_l0 = [[1, 2]];
    expect(() => new RNN(2, 3).loadStateDict(sd as never)).toThrow(/weight_ih_l0 expected a Tensor, got an array of 1/);
  });
});

describe('errors, as PyTorch raises them', () => {
  const lstm = new LSTM(5, 10, 2, { seed: 1 });
  const gru = new GRU(5, 10, { seed: 1 });
  const x = randn([4, 3, 5], { seed: 0 });

  it.each([
    ['input rank', () => lstm.forward(zeros([1, 2, 3, 4])), 'LSTM: expected input of rank 2 or 3, got rank 4 with shape [1,2,3,4]'],
    ['feature size', () => gru.forward(zeros([4, 3, 6])), 'GRU: input.size(-1) must be equal to inputSize; expected 5, got 6'],
    ['h0 shape', () => gru.forward(x, zeros([1, 3, 9])), 'GRU: expected hx of shape [1,3,10], got [1,3,9]'],
    ['h0 batch', () => gru.forward(x, zeros([1, 2, 10])), 'GRU: expected hx of shape [1,3,10], got [1,2,10]'],
    ['c0 shape', () => lstm.forward(x, [zeros([2, 3, 10]), zeros([1, 3, 10])]), 'LSTM: expected c0 of shape [2,3,10], got [1,3,10]'],
    ['state rank vs batched input', () => gru.forward(x, zeros([3, 10])), 'GRU: for batched 3-D input, hx should also be 3-D but got 2-D'],
    ['state rank vs unbatched input', () => gru.forward(zeros([4, 5]), zeros([1, 1, 10])), 'GRU: for unbatched 2-D input, hx should also be 2-D but got 3-D'],
    ['LSTM given one state', () => lstm.forward(x, zeros([2, 3, 10]) as never), 'LSTM: expected hx as [h0, c0], got a tensor of shape [2,3,10]'],
    ['GRU given two states', () => gru.forward(x, [zeros([1, 3, 10]), zeros([1, 3, 10])] as never), 'GRU: expected hx as a single Tensor, got an array of 2'],
    ['non-tensor input', () => gru.forward([[1]] as never), 'GRU: expected input as a Tensor, got an array'],
    ['empty sequence', () => gru.forward(zeros([0, 3, 5])), 'GRU: expected a sequence length greater than 0'],
    ['cell input rank', () => new GRUCell(4, 2).forward(zeros([1, 1, 4])), 'GRUCell: expected input of rank 1 or 2, got rank 3'],
    ['cell feature size', () => new RNNCell(4, 2).forward(zeros([3, 5])), 'RNNCell: input has inconsistent inputSize: expected 4, got 5'],
    ['cell batch', () => new RNNCell(4, 2).forward(zeros([3, 4]), zeros([2, 2])), "RNNCell: input batch size 3 doesn't match hx batch size 2"],
    ['cell hidden size', () => new LSTMCell(4, 2).forward(zeros([3, 4]), [zeros([3, 3]), zeros([3, 2])]), 'LSTMCell: h has inconsistent hiddenSize: expected 2, got 3'],
  ])('%s', (_label, call, message) => {
    expect(call).toThrow(message);
  });

  it.each([
    ['hiddenSize <= 0', () => new RNN(5, 0), 'RNN: hiddenSize must be an integer greater than zero, got number 0'],
    ['numLayers <= 0', () => new LSTM(5, 10, 0), 'LSTM: numLayers must be an integer greater than zero, got number 0'],
    ['fractional inputSize', () => new GRU(2.5, 3), 'GRU: inputSize must be an integer greater than zero, got number 2.5'],
    ['dropout > 1', () => new GRU(5, 10, 2, { dropout: 1.5 }), 'GRU: dropout should be a number in range [0, 1]'],
    ['dropout < 0', () => new GRU(5, 10, 2, { dropout: -0.1 }), 'got number -0.1'],
    ['unknown nonlinearity', () => new RNN(5, 10, 1, { nonlinearity: 'sigmoid' as never }), "RNN: unknown nonlinearity 'sigmoid'; select from 'tanh' or 'relu'"],
    ['projSize >= hiddenSize', () => new LSTM(5, 10, 1, { projSize: 10 }), 'LSTM: projSize has to be smaller than hiddenSize, got projSize 10 and hiddenSize 10'],
    ['projSize on GRU', () => new GRU(5, 10, 1, { projSize: 3 }), 'GRU: projSize is only supported for LSTM'],
    ['nonlinearity on LSTM', () => new LSTM({ inputSize: 5, hiddenSize: 3, nonlinearity: 'relu' }), 'LSTM: nonlinearity is an option of RNN only'],
    ['unknown option', () => new LSTM(5, 10, { hidden: 3 } as never), "LSTM: unknown option 'hidden'"],
    ['bad positional form', () => new LSTM('5' as never, 10), 'LSTM: expected (inputSize, hiddenSize, ...) or an options object'],
  ])('constructor: %s', (_label, make, message) => {
    expect(make).toThrow(message);
  });

  it('after any error the module still works and its weights are unchanged', () => {
    const m = new LSTM(5, 10, 2, { seed: 3 });
    const before = m.stateDict();
    const [ref] = m.forward(x);
    expect(() => m.forward(zeros([4, 3, 6]))).toThrow();
    expect(() => m.forward(x, [zeros([2, 3, 10]), zeros([2, 4, 10])])).toThrow();
    expect(() => m.loadStateDict({})).toThrow(/missing key/);
    expect(m.stateDict()).toEqual(before);
    expect(m.forward(x)[0].values).toEqual(ref.values);
  });

  it('NaN inputs propagate as NaN', () => {
    const input = randn([3, 1, 5], { seed: 0 });
    input.values[5] = Number.NaN; // step 1
    const [out, [h]] = lstm.forward(input);
    expect(at(out, 0).every(Number.isFinite)).toBe(true);
    expect(at(out, 1).some(Number.isNaN)).toBe(true);
    expect(h.values.some(Number.isNaN)).toBe(true);
  });
});

function transpose01(v: Float32Array, a: number, b: number, f: number): Float32Array {
  const out = new Float32Array(v.length);
  for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) out.set(v.subarray((i * b + j) * f, (i * b + j + 1) * f), (j * a + i) * f);
  return out;
}
