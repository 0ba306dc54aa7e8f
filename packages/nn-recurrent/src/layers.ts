// RNN, LSTM and GRU: PyTorch's multi-layer recurrent modules, on whichever backend is current.

import { ArgumentError, type Tensor, describeValue } from '@recur/core-tensor';
import type { RecurrentArgs } from './options.js';
import type { PackedSequence } from './packed.js';
import { RecurrentBase } from './recurrent.js';

function checkSingleState(kind: string, h0: unknown): void {
  if (Array.isArray(h0)) throw new ArgumentError(`${kind}: expected hx as a single Tensor, got ${describeValue(h0)}`);
}

function checkPairState(hx: unknown): void {
  if (hx !== undefined && hx !== null && (!Array.isArray(hx) || hx.length !== 2 || !hx[0] || !hx[1])) {
    throw new ArgumentError(`LSTM: expected hx as [h0, c0], got ${describeValue(hx)}`);
  }
}

/** Shared forward of the modules whose state is one tensor `h` (RNN and GRU). */
abstract class SingleStateModule extends RecurrentBase {
  /**
   * Runs the whole sequence. `x`: `[T, B, I]` (`[B, T, I]` with batchFirst), unbatched `[T, I]`, or a
   * PackedSequence; `h0`: `[numLayers * D, B, H]` (`[numLayers * D, H]` unbatched), zeros when omitted.
   * Returns `[output, hN]` shaped as PyTorch shapes them (a PackedSequence output for packed input).
   */
  forward(x: Tensor, h0?: Tensor | null): [Tensor, Tensor];
  forward(x: PackedSequence, h0?: Tensor | null): [PackedSequence, Tensor];
  forward(x: Tensor | PackedSequence, h0?: Tensor | null): [Tensor | PackedSequence, Tensor] {
    checkSingleState(this.kind, h0);
    const r = this.forwardAny(x, h0, null);
    return [r.out, r.hN];
  }

  /**
   * `forward` that works on every backend, resolving to the same results: on a backend that runs
   * asynchronously (device-resident, e.g. a GPU) the activations stay on the device between layers.
   * @example
   * const [out, hN] = await gru.forwardAsync(x, h0);
   */
  forwardAsync(x: Tensor, h0?: Tensor | null): Promise<[Tensor, Tensor]>;
  forwardAsync(x: PackedSequence, h0?: Tensor | null): Promise<[PackedSequence, Tensor]>;
  async forwardAsync(x: Tensor | PackedSequence, h0?: Tensor | null): Promise<[Tensor | PackedSequence, Tensor]> {
    checkSingleState(this.kind, h0);
    const r = await this.forwardAnyAsync(x, h0, null);
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
   * Runs the whole sequence. `x` as for RNN/GRU (padded or a PackedSequence); `hx` is `[h0, c0]`:
   * `h0` `[numLayers * D, B, projSize || H]`, `c0` `[numLayers * D, B, H]` (no batch dimension for
   * unbatched input); zeros when omitted. Returns `[output, [hN, cN]]`.
   */
  forward(x: Tensor, hx?: readonly [Tensor, Tensor] | null): [Tensor, [Tensor, Tensor]];
  forward(x: PackedSequence, hx?: readonly [Tensor, Tensor] | null): [PackedSequence, [Tensor, Tensor]];
  forward(x: Tensor | PackedSequence, hx?: readonly [Tensor, Tensor] | null): [Tensor | PackedSequence, [Tensor, Tensor]] {
    checkPairState(hx);
    const r = this.forwardAny(x, hx?.[0], hx?.[1]);
    return [r.out, [r.hN, r.cN!]];
  }

  /**
   * `forward` that works on every backend, resolving to the same results (device-resident on an
   * asynchronous backend).
   * @example
   * const [out, [h, c]] = await lstm.forwardAsync(x);
   */
  forwardAsync(x: Tensor, hx?: readonly [Tensor, Tensor] | null): Promise<[Tensor, [Tensor, Tensor]]>;
  forwardAsync(x: PackedSequence, hx?: readonly [Tensor, Tensor] | null): Promise<[PackedSequence, [Tensor, Tensor]]>;
  async forwardAsync(
    x: Tensor | PackedSequence,
    hx?: readonly [Tensor, Tensor] | null,
  ): Promise<[Tensor | PackedSequence, [Tensor, Tensor]]> {
    checkPairState(hx);
    const r = await this.forwardAnyAsync(x, hx?.[0], hx?.[1]);
    return [r.out, [r.hN, r.cN!]];
  }
}
