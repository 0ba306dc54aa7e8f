// Gradient clipping by total norm and zeroing gradients, as torch.nn.utils.clip_grad_norm_ and zero_grad.

import { ArgumentError, RangeArgumentError, Tensor, describeValue } from '@recur/core-tensor';

function tensorsOf(where: string, params: Iterable<Tensor>): Tensor[] {
  if (params === null || typeof params !== 'object' || typeof (params as Iterable<Tensor>)[Symbol.iterator] !== 'function') {
    throw new ArgumentError(`${where}: expected an array of parameters, got ${describeValue(params)}`);
  }
  const list = [...params];
  list.forEach((p, i) => {
    if (!(p instanceof Tensor)) throw new ArgumentError(`${where}: parameter ${i} is ${describeValue(p)}, expected a Tensor`);
  });
  return list;
}

/**
 * Scales the gradients of `params` in place so their total 2-norm is at most `maxNorm` (by
 * `maxNorm / (norm + 1e-6)` when above); parameters without a gradient are skipped. Returns the
 * total norm before clipping, as PyTorch.
 * @example
 * const norm = clipGradNorm(model.parameters(), 1.0);
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number): number {
  const list = tensorsOf('clipGradNorm', params);
  if (typeof maxNorm !== 'number' || !(maxNorm >= 0)) {
    throw new RangeArgumentError(`clipGradNorm: maxNorm must be a non-negative number, got ${describeValue(maxNorm)}`);
  }
  let sq = 0;
  for (const p of list) {
    const g = p.grad?.values;
    if (!g) continue;
    let s = 0;
    for (let i = 0; i < g.length; i++) s += g[i]! * g[i]!;
    const norm = Math.fround(Math.sqrt(s));
    sq += norm * norm;
  }
  const total = Math.fround(Math.sqrt(sq));
  const coef = maxNorm / (total + 1e-6);
  if (coef < 1) {
    for (const p of list) {
      const g = p.grad?.values;
      if (g) for (let i = 0; i < g.length; i++) g[i] = g[i]! * coef;
    }
  }
  return total;
}

/** Sets the gradient of every tensor in `params` to null. @example zeroGrad(model.parameters()); */
export function zeroGrad(params: Iterable<Tensor>): void {
  for (const p of tensorsOf('zeroGrad', params)) p.grad = null;
}
