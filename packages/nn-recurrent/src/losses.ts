// The losses recurrent models train with, as torch.nn.functional computes them: mean squared error,
// cross entropy over class indices (with ignoreIndex), and binary cross entropy on logits.

import {
  ArgumentError,
  RangeArgumentError,
  ShapeError,
  Tensor,
  describeValue,
  formatShape,
  recordOp,
} from '@recur/core-tensor';

/** How a loss reduces its per-element values, as PyTorch's `reduction`: 'mean' (default), 'sum' or 'none'. */
export type Reduction = 'mean' | 'sum' | 'none';

function readReduction(where: string, options: unknown): Reduction {
  if (options === undefined) return 'mean';
  if (typeof options !== 'object' || options === null) throw new ArgumentError(`${where}: expected options as an object, got ${describeValue(options)}`);
  const r = (options as { reduction?: unknown }).reduction ?? 'mean';
  if (r !== 'mean' && r !== 'sum' && r !== 'none') {
    throw new ArgumentError(`${where}: reduction must be 'mean', 'sum' or 'none', got ${describeValue(r)}`);
  }
  return r;
}

function sameShape(where: string, a: unknown, b: unknown): [Tensor, Tensor] {
  if (!(a instanceof Tensor)) throw new ArgumentError(`${where}: expected input as a Tensor, got ${describeValue(a)}`);
  if (!(b instanceof Tensor)) throw new ArgumentError(`${where}: expected target as a Tensor, got ${describeValue(b)}`);
  if (a.rank !== b.rank || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new ShapeError(`${where}: expected target of the input's shape ${formatShape(a.shape)}, got ${formatShape(b.shape)}`);
  }
  return [a, b];
}

/** Reduces elementwise losses `l` (recorded) as asked. */
function reduce(l: Tensor, reduction: Reduction): Tensor {
  return reduction === 'none' ? l : reduction === 'sum' ? l.sum() : l.mean();
}

/**
 * Mean squared error `(input - target)^2`, reduced by `reduction` (default 'mean'), as `F.mse_loss`.
 * @example
 * const loss = mseLoss(head.forward(out), target);
 */
export function mseLoss(input: Tensor, target: Tensor, options?: { reduction?: Reduction }): Tensor {
  const reduction = readReduction('mseLoss', options);
  const [a, b] = sameShape('mseLoss', input, target);
  const d = a.sub(b);
  return reduce(d.mul(d), reduction);
}

/**
 * Binary cross entropy on logits, computed stably (`max(x,0) - x*y + log(1 + exp(-|x|))`), as
 * `F.binary_cross_entropy_with_logits`.
 * @example
 * const logits = tensor([0.2, -1.5, 3]);
 * bceWithLogits(logits, tensor([1, 0, 1])); // a scalar tensor, the mean
 */
export function bceWithLogits(input: Tensor, target: Tensor, options?: { reduction?: Reduction }): Tensor {
  const reduction = readReduction('bceWithLogits', options);
  const [x, y] = sameShape('bceWithLogits', input, target);
  const xv = x.values;
  const yv = y.values;
  const out = new Float32Array(x.size);
  for (let i = 0; i < out.length; i++) {
    const v = xv[i]!;
    out[i] = Math.max(v, 0) - v * yv[i]! + Math.log1p(Math.exp(-Math.abs(v)));
  }
  const l = new Tensor(out, x.shape);
  recordOp('bceWithLogits', [x, y], [l], ([g]) => {
    const gx = new Float32Array(out.length);
    const gy = new Float32Array(out.length);
    for (let i = 0; i < out.length; i++) {
      const v = xv[i]!;
      const s = v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v));
      gx[i] = g![i]! * (s - yv[i]!);
      gy[i] = -g![i]! * v;
    }
    return [gx, gy];
  });
  return reduce(l, reduction);
}

/**
 * Options of `crossEntropy`, as PyTorch's `F.cross_entropy`.
 * @example
 * crossEntropy(logits, [2, 0, -100], { ignoreIndex: -100, reduction: 'sum' });
 */
export interface CrossEntropyOptions {
  /** 'mean' over the targets not ignored (default), 'sum' or 'none' (one loss per row). */
  reduction?: Reduction;
  /** Targets equal to this are skipped (and excluded from the mean). Default -100, as PyTorch. */
  ignoreIndex?: number;
}

/**
 * Cross entropy of logits `[N, C]` against class indices (`Int32Array`, `number[]` or a tensor of
 * whole numbers, length N), as `F.cross_entropy`: `-log softmax(logits)[i, target[i]]`, reduced by
 * `reduction` (the mean counts only targets that are not `ignoreIndex`).
 * @example
 * const loss = crossEntropy(logits.reshape([T * B, vocab]), targets);
 */
export function crossEntropy(logits: Tensor, target: Int32Array | readonly number[] | Tensor, options?: CrossEntropyOptions): Tensor {
  const where = 'crossEntropy';
  const reduction = readReduction(where, options);
  const ignoreIndex = options?.ignoreIndex ?? -100;
  if (!Number.isInteger(ignoreIndex)) throw new ArgumentError(`${where}: ignoreIndex must be an integer, got ${describeValue(ignoreIndex)}`);
  if (!(logits instanceof Tensor) || logits.rank !== 2) {
    throw new ShapeError(`${where}: expected logits of shape [N, C], got ${logits instanceof Tensor ? formatShape(logits.shape) : describeValue(logits)}`);
  }
  const [N, C] = logits.shape as [number, number];
  const t: ArrayLike<number> =
    target instanceof Tensor ? target.values : target instanceof Int32Array || Array.isArray(target) ? target : (null as never);
  if (!t) throw new ArgumentError(`${where}: expected target class indices (Int32Array, number[] or Tensor), got ${describeValue(target)}`);
  if (t.length !== N) throw new ShapeError(`${where}: expected ${N} targets (one per row of logits [${N},${C}]), got ${t.length}`);
  for (let i = 0; i < N; i++) {
    const c = t[i]!;
    if (c !== ignoreIndex && (!Number.isInteger(c) || c < 0 || c >= C)) {
      throw new RangeArgumentError(`${where}: target ${i} is ${describeValue(c)}, expected a class index in [0, ${C - 1}] (or ignoreIndex ${ignoreIndex})`);
    }
  }
  const logp = logits.logSoftmax(1);
  const lp = logp.values;
  const out = new Float32Array(N);
  let counted = 0;
  for (let i = 0; i < N; i++) {
    if (t[i] === ignoreIndex) continue;
    out[i] = -lp[i * C + t[i]!]!;
    counted++;
  }
  const nll = new Tensor(out, [N]);
  recordOp('nllLoss', [logp], [nll], ([g]) => {
    const gl = new Float32Array(N * C);
    for (let i = 0; i < N; i++) if (t[i] !== ignoreIndex) gl[i * C + t[i]!] = -g![i]!;
    return [gl];
  });
  if (reduction === 'none') return nll;
  const total = nll.sum();
  return reduction === 'sum' ? total : total.div(counted);
}
