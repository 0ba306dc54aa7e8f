// Autograd against PyTorch: every recorded operation's output and input gradients match PyTorch's
// float64 values within the tolerance PyTorch's own float32 error sets (fixtures from
// packages/nn-recurrent/scripts/gen-grad-fixtures.py); plus the tape's rules: accumulation, noGrad,
// detach, freed graphs, and the errors of bad gradients.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GradError, noGrad } from '../src/autograd.js';
import { ShapeError } from '../src/errors.js';
import { cat, stack } from '../src/ops.js';
import { type Tensor, tensor } from '../src/tensor.js';

interface Expected {
  shape: number[];
  data: number[];
  atol: number;
}
interface OpCase {
  name: string;
  inputs: Array<{ shape: number[]; data: number[] }>;
  upstream: { shape: number[]; data: number[] };
  expected: Record<string, Expected>;
}

const fixture = JSON.parse(readFileSync(new URL('./fixtures/ops-grad.json', import.meta.url), 'utf8')) as { cases: OpCase[] };

const OPS: Record<string, (...t: Tensor[]) => Tensor> = {
  'add broadcast': (a, b) => a!.add(b!),
  'sub broadcast': (a, b) => a!.sub(b!),
  'mul broadcast': (a, b) => a!.mul(b!),
  'div broadcast': (a, b) => a!.div(b!),
  neg: (a) => a!.neg(),
  'matmul 3d@2d': (a, b) => a!.matmul(b!),
  'matmul 1d@2d': (a, b) => a!.matmul(b!),
  'matmul 2d@1d': (a, b) => a!.matmul(b!),
  'sum all': (a) => a!.sum(),
  'sum dim 1 keepdim': (a) => a!.sum(1, true),
  'sum dim -1': (a) => a!.sum(-1),
  'mean all': (a) => a!.mean(),
  'mean dim 0': (a) => a!.mean(0),
  exp: (a) => a!.exp(),
  log: (a) => a!.log(),
  tanh: (a) => a!.tanh(),
  sigmoid: (a) => a!.sigmoid(),
  relu: (a) => a!.relu(),
  'softmax dim 1': (a) => a!.softmax(1),
  'softmax dim 0': (a) => a!.softmax(0),
  'logSoftmax dim -1': (a) => a!.logSoftmax(-1),
  reshape: (a) => a!.reshape([3, 4]),
  transpose: (a) => a!.transpose(0, 2),
  select: (a) => a!.select(1, 2),
  narrow: (a) => a!.narrow(1, 2, 3),
  'cat dim 1': (a, b) => cat([a!, b!], 1),
  'stack dim 1': (a, b) => stack([a!, b!], 1),
  chain: (a, b) => a!.matmul(b!).tanh().mul(2).sub(1).softmax(1).log(),
};

function expectClose(got: Tensor | null, e: Expected, label: string): void {
  expect(got, label).not.toBeNull();
  expect(got!.shape, label).toEqual(e.shape);
  let worst = 0;
  let at = -1;
  got!.values.forEach((v, i) => {
    const d = Math.abs(v - e.data[i]!);
    if (!(d <= worst)) {
      worst = d;
      at = i;
    }
  });
  expect(worst <= e.atol, `${label}: |got - PyTorch float64| = ${worst} at ${at} exceeds ${e.atol}`).toBe(true);
}

describe('operations against PyTorch', () => {
  it('covers every case of the fixture', () => {
    expect(fixture.cases.map((c) => c.name).sort()).toEqual(Object.keys(OPS).sort());
  });

  for (const c of fixture.cases) {
    it(c.name, () => {
      const inputs = c.inputs.map((i) => tensor(i.data, i.shape, { requiresGrad: true }));
      const out = OPS[c.name]!(...inputs);
      expectClose(out, c.expected.out!, 'out');
      out.backward(tensor(c.upstream.data, c.upstream.shape));
      inputs.forEach((t, i) => {
        expectClose(t.grad, c.expected[`grad${i}`]!, `grad${i}`);
      });
    });
  }
});

describe('the tape', () => {
  it('accumulates .grad over backward calls until zeroed, as PyTorch', () => {
    const w = tensor([1, 2, 3], null, { requiresGrad: true });
    w.mul(w).sum().backward();
    expect(Array.from(w.grad!.values)).toEqual([2, 4, 6]);
    w.mul(3).sum().backward();
    expect(Array.from(w.grad!.values)).toEqual([5, 7, 9]);
    w.grad = null;
    w.sum().backward();
    expect(Array.from(w.grad!.values)).toEqual([1, 1, 1]);
  });

  it('sums the gradients of a tensor used twice (diamond)', () => {
    const x = tensor([2], null, { requiresGrad: true });
    const y = x.mul(x);
    y.add(y.mul(x)).sum().backward(); // d/dx (x^2 + x^3) = 2x + 3x^2 = 16
    expect(x.grad!.values[0]).toBe(16);
  });

  it('records nothing without requiresGrad, inside noGrad, or after detach()', () => {
    const a = tensor([1, 2]);
    expect(a.mul(2).requiresGrad).toBe(false);
    const w = tensor([1, 2], null, { requiresGrad: true });
    const inside = noGrad(() => w.mul(2));
    expect(inside.requiresGrad).toBe(false);
    expect(inside.gradFn).toBeNull();
    const d = w.mul(2).detach();
    expect(d.requiresGrad).toBe(false);
    expect(d.isLeaf).toBe(true);
    expect(() => d.sum().backward()).toThrow(GradError);
  });

  it('refuses a second backward through freed buffers, unless the graph was retained', () => {
    const w = tensor([1, 2], null, { requiresGrad: true });
    const loss = w.mul(w).sum();
    loss.backward();
    expect(() => loss.backward()).toThrow(/backward through the graph a second time \(through 'sum'\)/);
    const kept = w.mul(w).sum();
    kept.backward(null, { retainGraph: true });
    kept.backward();
    expect(Array.from(w.grad!.values)).toEqual([2 + 2 + 2, 4 + 4 + 4]);
  });

  it('names what is wrong with a missing or mis-shaped gradient, before changing any .grad', () => {
    const w = tensor([1, 2, 3], null, { requiresGrad: true });
    const y = w.mul(2);
    expect(() => y.backward()).toThrow('backward: a gradient can be implied only for a scalar output; expected a gradient of shape [3] as backward(gradient)');
    expect(() => y.backward(tensor([1, 2]))).toThrow(ShapeError);
    expect(() => y.backward(tensor([1, 2]))).toThrow('backward: expected a gradient of shape [3], got a tensor of shape [2]');
    expect(w.grad).toBeNull();
  });

  it('NaN in gives NaN gradients, never a crash', () => {
    const w = tensor([Number.NaN, 1], null, { requiresGrad: true });
    w.tanh().sum().backward();
    expect(Number.isNaN(w.grad!.values[0])).toBe(true);
    expect(w.grad!.values[1]).toBeCloseTo(1 - Math.tanh(1) ** 2, 6);
  });

  it('handles a chain of 100,000 operations without a stack overflow', () => {
    const w = tensor([1], null, { requiresGrad: true });
    let y: Tensor = w;
    for (let i = 0; i < 100_000; i++) y = y.add(0);
    y.sum().backward();
    expect(w.grad!.values[0]).toBe(1);
  });

  it('only leaves may stop requiring grad; broadcasting errors name both shapes', () => {
    const w = tensor([1, 2], null, { requiresGrad: true });
    expect(() => {
      w.mul(2).requiresGrad = false;
    }).toThrow(/only change the flag of a leaf/);
    expect(() => tensor([1, 2, 3]).add(tensor([1, 2]))).toThrow('add: shapes [3] and [2] cannot be broadcast together');
    expect(() => w.sum(2)).toThrow(/dim must be an integer in \[-1, 0\], got number 2/);
  });
});
