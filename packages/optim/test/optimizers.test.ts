// The optimizers against torch.optim (fixture optimizers.json from
// packages/nn-recurrent/scripts/gen-grad-fixtures.py): four steps each, within PyTorch's own
// float32-vs-float64 error; state round trips; skipping parameters without grad; errors.

import { readFileSync } from 'node:fs';
import { type Tensor, tensor } from '@recur/core-tensor';
import { describe, expect, it } from 'vitest';
import { Adam, AdamW, SGD, clipGradNorm, zeroGrad } from '../src/index.js';

interface Arr {
  shape: number[];
  data: number[];
}
const f = JSON.parse(readFileSync(new URL('../../nn-recurrent/fixtures/grad/optimizers.json', import.meta.url), 'utf8')) as {
  p0: Arr;
  grads: Arr[];
  cases: Record<string, { optimizer: 'SGD' | 'Adam' | 'AdamW'; options: Record<string, unknown>; expected: Arr & { atol: number } }>;
};
const CTORS = { SGD, Adam, AdamW };
const make = (p: Tensor, c: (typeof f.cases)[string]) => new CTORS[c.optimizer]([p], c.options as never);

describe('update rules against torch.optim', () => {
  for (const [name, c] of Object.entries(f.cases)) {
    it(name, () => {
      const p = tensor(f.p0.data, f.p0.shape, { requiresGrad: true });
      const opt = make(p, c);
      const n = f.p0.data.length;
      f.grads.forEach((g, s) => {
        p.grad = tensor(g.data, g.shape);
        const before = p.version;
        opt.step();
        expect(p.version).toBe(before + 1);
        let worst = 0;
        for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(p.values[i]! - c.expected.data[s * n + i]!));
        expect(worst, `step ${s + 1}`).toBeLessThanOrEqual(c.expected.atol);
      });
    });

    it(`${name}: paused and resumed through stateDict() follows the same path`, () => {
      const a = tensor(f.p0.data, f.p0.shape, { requiresGrad: true });
      const b = tensor(f.p0.data, f.p0.shape, { requiresGrad: true });
      const optA = make(a, c);
      const optB = make(b, c);
      f.grads.forEach((g, s) => {
        a.grad = tensor(g.data, g.shape);
        b.grad = tensor(g.data, g.shape);
        optA.step();
        optB.step();
        if (s === 1) {
          const saved = JSON.parse(JSON.stringify(optB.stateDict()));
          const resumed = make(b, c);
          resumed.loadStateDict(saved);
          Object.assign(optB, { state: (resumed as unknown as { state: unknown }).state });
        }
      });
      expect(Array.from(b.values)).toEqual(Array.from(a.values));
    });
  }
});

describe('optimizer rules of use', () => {
  it('skips parameters without a gradient, as PyTorch skips grad None', () => {
    const p = tensor([1, 2], null, { requiresGrad: true });
    const q = tensor([3, 4], null, { requiresGrad: true });
    const opt = new SGD([p, q], { lr: 0.5 });
    q.grad = tensor([1, 1]);
    opt.step();
    expect(Array.from(p.values)).toEqual([1, 2]);
    expect(Array.from(q.values)).toEqual([2.5, 3.5]);
    opt.zeroGrad();
    expect(q.grad).toBeNull();
  });

  it('clipGradNorm returns the norm before clipping and scales to maxNorm', () => {
    const p = tensor([0, 0], null, { requiresGrad: true });
    const q = tensor([0], null, { requiresGrad: true });
    p.grad = tensor([3, 0]);
    q.grad = tensor([4]);
    expect(clipGradNorm([p, q], 1)).toBeCloseTo(5, 6);
    expect(p.grad.values[0]).toBeCloseTo(0.6, 5);
    expect(q.grad.values[0]).toBeCloseTo(0.8, 5);
    expect(clipGradNorm([p, q], 10)).toBeCloseTo(1, 5);
    expect(p.grad.values[0]).toBeCloseTo(0.6, 5);
    zeroGrad([p, q]);
    expect(p.grad).toBeNull();
  });

  it('errors name what was expected and change no parameter', () => {
    expect(() => new Adam([])).toThrow('Adam: optimizer got an empty parameter list; expected at least one tensor');
    expect(() => new SGD([tensor([1])], { lr: -1 })).toThrow('SGD: lr must be a number in [0, Infinity], got number -1');
    expect(() => new SGD([tensor([1])], {} as never)).toThrow(/lr must be a number/);
    expect(() => new SGD([tensor([1])], { lr: 0.1, nesterov: true })).toThrow(/Nesterov momentum requires a momentum/);
    expect(() => new Adam([tensor([1])], { betas: [0.9, 1] })).toThrow(/betas must be two numbers in \[0, 1\)/);
    expect(() => new Adam([[1, 2]] as never)).toThrow('Adam: parameter 0 is an array of 2, expected a Tensor');
    const p = tensor([1, 2], null, { requiresGrad: true });
    const opt = new Adam([p]);
    expect(() => opt.loadStateDict({ options: {}, state: [] })).toThrow('Adam.loadStateDict: expected state for 1 parameters, got 0');
    expect(() => clipGradNorm([p], Number.NaN)).toThrow(/maxNorm must be a non-negative number/);
  });
});
