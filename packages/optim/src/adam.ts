// Adam and AdamW, exactly as torch.optim.Adam and AdamW: bias-corrected moments, L2 weight decay
// added to the gradient (Adam) or decoupled decay applied to the weights first (AdamW).

import { ArgumentError, type Tensor, describeValue } from '@recur/core-tensor';
import { Optimizer, numberOption } from './optimizer.js';

/**
 * Options of `Adam` and `AdamW`, with PyTorch's names and defaults.
 * @example
 * new Adam(model.parameters(), { lr: 1e-3, betas: [0.9, 0.98], eps: 1e-9 });
 */
export interface AdamOptions {
  /** Learning rate (default 1e-3). */
  lr?: number;
  /** Decay rates of the first and second moment estimates (default [0.9, 0.999]). */
  betas?: [number, number];
  /** Added to the denominator for stability (default 1e-8). */
  eps?: number;
  /** L2 penalty added to the gradient in Adam, decoupled decay in AdamW (default 0 for Adam, 1e-2 for AdamW). */
  weightDecay?: number;
}

interface Resolved {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
}

function resolve(kind: string, options: AdamOptions | undefined, decayDefault: number): Resolved {
  const o = options ?? {};
  if (typeof o !== 'object' || o === null) throw new ArgumentError(`${kind}: expected options { lr, betas, eps, weightDecay }, got ${describeValue(o)}`);
  const betas = o.betas ?? [0.9, 0.999];
  if (!Array.isArray(betas) || betas.length !== 2 || !betas.every((b) => typeof b === 'number' && b >= 0 && b < 1)) {
    throw new ArgumentError(`${kind}: betas must be two numbers in [0, 1), got ${describeValue(betas)}`);
  }
  return {
    lr: numberOption(kind, o, 'lr', 1e-3),
    betas: [betas[0], betas[1]],
    eps: numberOption(kind, o, 'eps', 1e-8),
    weightDecay: numberOption(kind, o, 'weightDecay', decayDefault),
  };
}

/** The Adam step shared by both: `decoupled` applies the decay to the weights (AdamW). */
function adamStep(o: Resolved, decoupled: boolean, p: Float32Array, g: Float32Array, s: Map<string, Float32Array | number>): void {
  const { lr, eps, weightDecay } = o;
  const [b1, b2] = o.betas;
  const step = ((s.get('step') as number | undefined) ?? 0) + 1;
  s.set('step', step);
  let m = s.get('expAvg') as Float32Array | undefined;
  let v = s.get('expAvgSq') as Float32Array | undefined;
  if (!m || !v) {
    m = new Float32Array(p.length);
    v = new Float32Array(p.length);
    s.set('expAvg', m);
    s.set('expAvgSq', v);
  }
  const bc1 = 1 - b1 ** step;
  const bc2Sqrt = Math.sqrt(1 - b2 ** step);
  const stepSize = lr / bc1;
  for (let i = 0; i < p.length; i++) {
    if (decoupled) p[i] = p[i]! * (1 - lr * weightDecay);
    const gi = Math.fround(!decoupled && weightDecay !== 0 ? g[i]! + weightDecay * p[i]! : g[i]!);
    m[i] = b1 * m[i]! + (1 - b1) * gi;
    v[i] = b2 * v[i]! + (1 - b2) * gi * gi;
    const denom = Math.fround(Math.sqrt(v[i]!) / bc2Sqrt + eps);
    p[i] = p[i]! - (stepSize * m[i]!) / denom;
  }
}

/**
 * Adam, PyTorch's update rule (bias correction included).
 * @example
 * const opt = new Adam(model.parameters(), { lr: 1e-3 });
 */
export class Adam extends Optimizer<Resolved> {
  constructor(params: Iterable<Tensor>, options?: AdamOptions) {
    super('Adam', params, resolve('Adam', options, 0));
  }

  protected update(p: Float32Array, g: Float32Array, s: Map<string, Float32Array | number>): void {
    adamStep(this.options, false, p, g, s);
  }
}

/**
 * AdamW: Adam with decoupled weight decay (`p *= 1 - lr·wd` before the Adam step), default wd 0.01.
 * @example
 * const opt = new AdamW(model.parameters(), { lr: 1e-3, weightDecay: 0.01 });
 */
export class AdamW extends Optimizer<Resolved> {
  constructor(params: Iterable<Tensor>, options?: AdamOptions) {
    super('AdamW', params, resolve('AdamW', options, 0.01));
  }

  protected update(p: Float32Array, g: Float32Array, s: Map<string, Float32Array | number>): void {
    adamStep(this.options, true, p, g, s);
  }
}
