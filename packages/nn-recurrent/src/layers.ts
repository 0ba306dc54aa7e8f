// RNN, LSTM and GRU: PyTorch's multi-layer recurrent modules, on whichever backend is current.

import type { Tensor } from '@recur/core-tensor';
import type { RecurrentArgs } from './options.js';
import { RecurrentBase } from './recurrent.js';

function describe(v: unknown): string {
  if (Array.isArray(v)) return `an array of ${v.length}`;
  return v === null ? 'null' : typeof v === 'object' ? `a ${(v as object).constructor?.name ?? 'object'}` : typeof v;
}

/** Shared forward of the modules whose state is one tensor `h` (RNN and GRU). */
abstract class SingleStateModule extends RecurrentBase {
  /**
   * Runs the whole sequence. `x`: `[T, B, I]` (`[B, T, I]` with batchFirst) or unbatched `[T, I]`;
   * `h0`: `[numLayers * D, B, H]` (`[numLayers * D, H]` unbatched), zeros when omitted.
   * Returns `[output, hN]` shaped as PyTorch shapes them.
   */
  forward(x: Tensor, h0?: Tensor | null): [Tensor, Tensor] {
    if (Array.isArray(h0)) {
      throw new TypeError(`${this.kind}: expected hx as a single Tensor, got ${describe(h0)}`);
    }
    const { seq, batched } = this.prepareInput(x);
    const h = this.checkState('hx', h0, seq.batch, this.outputSize, batched);
    const r = this.shapeOutput(this.run(seq, h, null), seq, batched);
    return [r.out, r.hN];
  }
}

/**
 * Elman RNN: `h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)` (or relu), as `torch.nn.RNN`.
 * @example
 * const rnn = new RNN(5, 10, 2);
 * const [out, hN] = rnn.forward(randn([6, 3, 5], { seed: 0 })); // out [6,3,10], hN [2,3,10]
 */
export class RNN extends SingleStateModule {
  constructor(...args: RecurrentArgs) {
    super('RNN', args, (o) => (o.nonlinearity === 'relu' ? 'rnn_relu' : 'rnn_tanh'));
  }

  /** 'tanh' or 'relu'. */
  get nonlinearity(): 'tanh' | 'relu' {
    return this.mode === 'rnn_relu' ? 'relu' : 'tanh';
  }

  protected get kind(): string {
    return 'RNN';
  }
}

/**
 * Gated recurrent unit with PyTorch's equations (gates r, z, n; `n = tanh(W_in x + b_in + r * (W_hn h + b_hn))`).
 * @example
 * const gru = new GRU(10, 20, 2);
 * const [out, hN] = gru.forward(randn([3, 32, 10], { seed: 0 })); // out [3,32,20], hN [2,32,20]
 */
export class GRU extends SingleStateModule {
  constructor(...args: RecurrentArgs) {
    super('GRU', args, () => 'gru');
  }

  protected get kind(): string {
    return 'GRU';
  }
}

/**
 * Long short-term memory (gates i, f, g, o), with optional projections (`projSize`), as `torch.nn.LSTM`.
 * @example
 * const lstm = new LSTM({ inputSize: 50, hiddenSize: 100, numLayers: 2 });
 * const [out, [h, c]] = lstm.forward(randn([10, 3, 50], { seed: 0 })); // out [10,3,100], h and c [2,3,100]
 */
export class LSTM extends RecurrentBase {
  constructor(...args: RecurrentArgs) {
    super('LSTM', args, () => 'lstm');
  }

  protected get kind(): string {
    return 'LSTM';
  }

  /**
   * Runs the whole sequence. `hx` is `[h0, c0]`: `h0` `[numLayers * D, B, projSize || H]`,
   * `c0` `[numLayers * D, B, H]` (without the batch dimension for unbatched input); zeros when omitted.
   * Returns `[output, [hN, cN]]`.
   */
  forward(x: Tensor, hx?: readonly [Tensor, Tensor] | null): [Tensor, [Tensor, Tensor]] {
    if (hx !== undefined && hx !== null && (!Array.isArray(hx) || hx.length !== 2)) {
      throw new TypeError(`LSTM: expected hx as [h0, c0], got ${describe(hx)}`);
    }
    const { seq, batched } = this.prepareInput(x);
    const h = this.checkState('h0', hx?.[0], seq.batch, this.outputSize, batched);
    const c = this.checkState('c0', hx?.[1], seq.batch, this.hiddenSize, batched);
    if (hx && (!h || !c)) throw new TypeError('LSTM: expected hx as [h0, c0] with both tensors given');
    const r = this.shapeOutput(this.run(seq, h, c), seq, batched);
    return [r.out, [r.hN, r.cN!]];
  }
}
