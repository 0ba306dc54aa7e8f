// Linear, Embedding and the losses against PyTorch (fixture heads_and_losses from
// scripts/gen-grad-fixtures.py): outputs, losses and every gradient, within PyTorch's own
// float32-vs-float64 error; plus their initialisation, state dicts and errors.

import { readFileSync } from 'node:fs';
import { StateDictError, type Tensor, tensor } from '@recur/core-tensor';
import { describe, expect, it } from 'vitest';
import { Embedding, Linear, bceWithLogits, crossEntropy, mseLoss } from '../src/index.js';
import { expectNear } from './helpers.js';

interface Arr {
  shape: number[];
  data: number[];
}
const f = JSON.parse(readFileSync(new URL('../fixtures/grad/heads_and_losses.json', import.meta.url), 'utf8')) as {
  x: Arr;
  logits: Arr;
  pred: Arr;
  target: Arr;
  bceX: Arr;
  bceY: Arr;
  params: Record<string, Arr>;
  expected: Record<string, Arr & { atol: number }>;
  upstream: Record<string, Arr>;
  indices: number[];
  indicesShape: number[];
  classes: number[];
  ignoreClasses: number[];
};
const t = (a: Arr, requiresGrad = false) => tensor(a.data, a.shape, { requiresGrad });

describe('heads and losses against PyTorch', () => {
  it('outputs, losses and gradients', () => {
    const lin = new Linear(5, 3, { seed: 0 });
    lin.loadStateDict({ weight: t(f.params['linear.weight']!), bias: t(f.params['linear.bias']!) });
    const emb = new Embedding(7, 4, { seed: 0 });
    emb.loadStateDict({ weight: t(f.params['embedding.weight']!) });
    const x = t(f.x, true);
    const logits = t(f.logits, true);
    const pred = t(f.pred, true);
    const bceX = t(f.bceX, true);
    const y = lin.forward(x);
    const e = emb.forward(tensor(f.indices, f.indicesShape));
    const losses: Record<string, Tensor> = {
      mse_mean: mseLoss(pred, t(f.target)),
      mse_sum: mseLoss(pred, t(f.target), { reduction: 'sum' }),
      ce_mean: crossEntropy(logits, f.classes),
      ce_sum: crossEntropy(logits, Int32Array.from(f.classes), { reduction: 'sum' }),
      ce_ignore_mean: crossEntropy(logits, tensor(f.ignoreClasses), { ignoreIndex: -100 }),
      ce_ignore_none: crossEntropy(logits, f.ignoreClasses, { reduction: 'none' }),
      bce_mean: bceWithLogits(bceX, t(f.bceY)),
      bce_none: bceWithLogits(bceX, t(f.bceY), { reduction: 'none' }),
    };
    expectNear(y, f.expected['linear.out']!, 'linear.out');
    expectNear(e, f.expected['embedding.out']!, 'embedding.out');
    let total = y.mul(t(f.upstream.gy!)).sum().add(e.mul(t(f.upstream.ge!)).sum());
    for (const [k, v] of Object.entries(losses)) {
      expectNear(v, f.expected[`loss.${k}`]!, `loss.${k}`);
      const n = v.size;
      const w = tensor(Array.from({ length: n }, (_, i) => (n === 1 ? 1 : 0.5 + i / (n - 1))), v.shape);
      total = total.add(v.rank === 0 ? v : v.mul(w).sum());
    }
    total.backward();
    expectNear(x.grad, f.expected.x!, 'x');
    expectNear(logits.grad, f.expected.logits!, 'logits');
    expectNear(pred.grad, f.expected.pred!, 'pred');
    expectNear(bceX.grad, f.expected.bceX!, 'bceX');
    for (const [name, p] of lin.namedParameters()) expectNear(p.grad, f.expected[`grad.linear.${name}`]!, name);
    for (const [name, p] of emb.namedParameters()) expectNear(p.grad, f.expected[`grad.embedding.${name}`]!, name);
  });
});

describe('heads: PyTorch layout, initialisation and errors', () => {
  it('Linear has weight [out, in] and bias [out] from U(-1/sqrt(in), 1/sqrt(in)); Embedding N(0, 1)', () => {
    const lin = new Linear(16, 4, { seed: 1 });
    expect(lin.namedParameters().map(([n, p]) => [n, p.shape])).toEqual([
      ['weight', [4, 16]],
      ['bias', [4]],
    ]);
    expect(Math.max(...lin.parameters().flatMap((p) => Array.from(p.values, Math.abs)))).toBeLessThanOrEqual(0.25);
    expect(new Linear(3, 2, { bias: false }).namedParameters().map(([n]) => n)).toEqual(['weight']);
    const emb = new Embedding(1000, 10, { seed: 2 });
    const w = emb.parameters()[0]!.values;
    const mean = w.reduce((a, b) => a + b, 0) / w.length;
    const sd = Math.sqrt(w.reduce((a, b) => a + (b - mean) ** 2, 0) / w.length);
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(sd - 1)).toBeLessThan(0.03);
    expect(() => emb.loadStateDict({})).toThrow(StateDictError);
  });

  it('names what is wrong', () => {
    expect(() => new Linear(3, 2).forward(tensor([[1, 2]]))).toThrow('Linear: expected input of shape [..., 3], got [1,2]');
    expect(() => new Embedding(4, 2).forward(Int32Array.of(1, 4))).toThrow('Embedding: index out of range: expected whole numbers in [0, 3], got number 4 at position 1');
    expect(() => new Embedding(4, 2).forward(tensor([0.5]))).toThrow(/got number 0.5/);
    expect(() => crossEntropy(tensor([[1, 2]]), [0, 1])).toThrow('crossEntropy: expected 1 targets (one per row of logits [1,2]), got 2');
    expect(() => crossEntropy(tensor([[1, 2]]), [2])).toThrow('crossEntropy: target 0 is number 2, expected a class index in [0, 1] (or ignoreIndex -100)');
    expect(() => mseLoss(tensor([1, 2]), tensor([1]))).toThrow('mseLoss: expected target of the input\'s shape [2], got [1]');
    expect(() => mseLoss(tensor([1]), tensor([1]), { reduction: 'avg' as never })).toThrow("reduction must be 'mean', 'sum' or 'none', got the string 'avg'");
  });
});
