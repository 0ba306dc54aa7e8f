// Gradients of the recurrent modules and cells against PyTorch's autograd on every backend: the
// gradient of a fixed linear loss of the outputs with respect to every parameter, the input and the
// initial states, each within the tolerance PyTorch's own float32-vs-float64 error sets
// (fixtures: scripts/gen-grad-fixtures.py).

import { readFileSync } from 'node:fs';
import { type Tensor, setBackend, tensor } from '@recur/core-tensor';
import { describe, expect, it } from 'vitest';
import { GRU, GRUCell, LSTM, LSTMCell, RNN, RNNCell, type PackedSequence, packPaddedSequence, padPackedSequence } from '../src/index.js';
import { BACKENDS } from './backends.js';
import { type Expected, expectNear } from './helpers.js';

interface Arr {
  shape: number[];
  data: number[];
}
interface GradFixture {
  name: string;
  module: 'LSTM' | 'GRU' | 'RNN' | 'LSTMCell' | 'GRUCell' | 'RNNCell';
  kind: 'module' | 'packed' | 'cell';
  options: Record<string, unknown>;
  training: boolean;
  params: Record<string, Arr>;
  input: Arr;
  h0: Arr | null;
  c0: Arr | null;
  lengths: number[] | null;
  enforceSorted: boolean;
  upstream: Record<string, Arr>;
  expected: Record<string, Expected>;
}

const DIR = new URL('../fixtures/grad/', import.meta.url);
const load = <T>(name: string): T => JSON.parse(readFileSync(new URL(`${name}.json`, DIR), 'utf8')) as T;
const names = load<{ modules: string[] }>('index').modules;
const t = (a: Arr, requiresGrad = false) => tensor(a.data, a.shape, { requiresGrad });

const MODULES = { LSTM, GRU, RNN, LSTMCell, GRUCell, RNNCell };

function run(f: GradFixture): Record<string, Tensor | null | undefined> {
  const Ctor = MODULES[f.module] as unknown as new (o: unknown) => LSTM;
  const m = new Ctor({ ...f.options, seed: 0 });
  m.loadStateDict(Object.fromEntries(Object.entries(f.params).map(([k, v]) => [k, t(v)])));
  m.train(f.training);
  const x = t(f.input, true);
  const h0 = f.h0 ? t(f.h0, true) : null;
  const c0 = f.c0 ? t(f.c0, true) : null;
  const up = Object.fromEntries(Object.entries(f.upstream).map(([k, v]) => [k, t(v)]));
  let loss: Tensor;
  if (f.kind === 'cell') {
    const cell = m as unknown as LSTMCell & GRUCell;
    let state: Tensor | [Tensor, Tensor] | null = f.module === 'LSTMCell' ? (h0 ? [h0, c0!] : null) : h0;
    loss = tensor(0);
    for (let s = 0; s < f.input.shape[0]!; s++) {
      state = cell.forward(x.select(0, s), state as never) as Tensor | [Tensor, Tensor];
      const h = Array.isArray(state) ? state[0] : state;
      loss = loss.add(h.mul(up.gH!.select(0, s)).sum());
    }
    if (Array.isArray(state)) loss = loss.add(state[1].mul(up.gcN!).sum());
  } else {
    const input = f.lengths ? packPaddedSequence(x, f.lengths, { batchFirst: f.options.batchFirst === true, enforceSorted: f.enforceSorted }) : x;
    const hx = f.module === 'LSTM' ? (h0 ? [h0, c0!] : null) : h0;
    const [outAny, state] = m.forward(input as Tensor, hx as never) as unknown as [Tensor | PackedSequence, Tensor | [Tensor, Tensor]];
    const out = f.lengths ? padPackedSequence(outAny as PackedSequence, { batchFirst: f.options.batchFirst === true })[0] : (outAny as Tensor);
    const [hN, cN] = Array.isArray(state) ? state : [state, null];
    loss = out.mul(up.gOut!).sum().add(hN.mul(up.ghN!).sum());
    if (cN) loss = loss.add(cN.mul(up.gcN!).sum());
  }
  loss.backward();
  const got: Record<string, Tensor | null | undefined> = { x: x.grad, h0: h0?.grad, c0: c0?.grad };
  for (const [name, p] of m.namedParameters()) got[`param.${name}`] = p.grad;
  return got;
}

describe.each(BACKENDS.map((b) => [b.name] as const))('gradients against PyTorch on %s', (backend) => {
  for (const name of names) {
    it(name, async () => {
      await setBackend(backend);
      const f = load<GradFixture>(name);
      const got = run(f);
      const keys = Object.keys(f.expected).filter((k) => k === 'x' || k === 'h0' || k === 'c0' || k.startsWith('param.'));
      expect(keys.length).toBeGreaterThanOrEqual(3);
      for (const k of keys) expectNear(got[k], f.expected[k]!, k);
    });
  }
});

describe.each(BACKENDS.map((b) => [b.name] as const))('dropout between layers on %s', (backend) => {
  it('gradients flow through the kept units only, scaled by 1/(1-p), as finite differences show', async () => {
    await setBackend(backend);
    // A module's first forward always draws the same masks for its seed, so every evaluation below
    // (each on a new module with that seed) sees the same dropout.
    const make = () => new GRU(3, 4, 2, { dropout: 0.5, seed: 11 });
    const x0 = tensor(Array.from({ length: 5 * 2 * 3 }, (_, i) => Math.sin(i)), [5, 2, 3]);
    const lossAt = (x: Tensor) => {
      const [out, hN] = make().forward(x);
      return out.sum().add(hN.mul(0.5).sum());
    };
    const x = tensor(x0.values.slice(), x0.shape, { requiresGrad: true });
    lossAt(x).backward();
    const eps = 1e-2;
    for (const i of [0, 7, 13, 29]) {
      const up = x0.values.slice();
      const down = x0.values.slice();
      up[i]! += eps;
      down[i]! -= eps;
      const numeric = (lossAt(tensor(up, x0.shape)).values[0]! - lossAt(tensor(down, x0.shape)).values[0]!) / (2 * eps);
      expect(Math.abs(x.grad!.values[i]! - numeric)).toBeLessThan(2e-3 + 1e-2 * Math.abs(numeric));
    }
    // The layer-0 output units dropped in the mask get no gradient from layer 1: some weight rows of
    // layer 1 see zero input, but layer 0's own gradient is still non-zero overall.
    const m = make();
    const [out] = m.forward(x0);
    out.sum().backward();
    expect(m.namedParameters().every(([, p]) => p.grad?.values.some((v) => v !== 0))).toBe(true);
  });
});
