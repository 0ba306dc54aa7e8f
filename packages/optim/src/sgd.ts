// SGD with momentum, dampening, weight decay and Nesterov momentum, exactly as torch.optim.SGD.

import { ArgumentError, type Tensor, describeValue } from '@recur/core-tensor';
import { Optimizer, numberOption } from './optimizer.js';

/**
 * Options of `SGD`, with PyTorch's names and defaults.
 * @example
 * new SGD(model.parameters(), { lr: 0.1, momentum: 0.9, nesterov: true });
 */
export interface SGDOptions {
  /** Learning rate (required, as in PyTorch). */
  lr: number;
  /** Momentum factor (default 0). */
  momentum?: number;
  /** Dampening for momentum (default 0). */
  dampening?: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay?: number;
  /** Nesterov momentum (default false; needs a momentum and zero dampening). */
  nesterov?: boolean;
}

/**
 * Stochastic gradient descent, PyTorch's update rule: `d = g + wd·p`; with momentum
 * `buf = momentum·buf + (1 - dampening)·d` (the first step `buf = d`), `d = nesterov ? d + momentum·buf : buf`;
 * `p -= lr·d`.
 * @example
 * const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
 * loss.backward(); opt.step(); opt.zeroGrad();
 */
export class SGD extends Optimizer<Required<SGDOptions>> {
  constructor(params: Iterable<Tensor>, options: SGDOptions) {
    const kind = 'SGD';
    if (typeof options !== 'object' || options === null) throw new ArgumentError(`${kind}: expected options { lr, ... }, got ${describeValue(options)}`);
    const o = {
      lr: numberOption(kind, options, 'lr', Number.NaN),
      momentum: numberOption(kind, options, 'momentum', 0),
      dampening: numberOption(kind, options, 'dampening', 0),
      weightDecay: numberOption(kind, options, 'weightDecay', 0),
      nesterov: options.nesterov ?? false,
    };
    if (typeof o.nesterov !== 'boolean') throw new ArgumentError(`${kind}: nesterov must be a boolean, got ${describeValue(o.nesterov)}`);
    if (o.nesterov && (o.momentum <= 0 || o.dampening !== 0)) {
      throw new ArgumentError(`${kind}: Nesterov momentum requires a momentum and zero dampening, got momentum ${o.momentum} and dampening ${o.dampening}`);
    }
    super(kind, params, o);
  }

  protected update(p: Float32Array, g: Float32Array, s: Map<string, Float32Array | number>): void {
    const { lr, momentum, dampening, weightDecay, nesterov } = this.options;
    let buf = s.get('momentumBuffer') as Float32Array | undefined;
    const first = !buf;
    if (momentum !== 0 && !buf) {
      buf = new Float32Array(p.length);
      s.set('momentumBuffer', buf);
    }
    for (let i = 0; i < p.length; i++) {
      let d = Math.fround(weightDecay !== 0 ? g[i]! + weightDecay * p[i]! : g[i]!);
      if (buf) {
        buf[i] = first ? d : momentum * buf[i]! + (1 - dampening) * d;
        d = nesterov ? Math.fround(d + momentum * buf[i]!) : buf[i]!;
      }
      p[i] = p[i]! - lr * d;
    }
  }
}
