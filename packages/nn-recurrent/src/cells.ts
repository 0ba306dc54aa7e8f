// RNNCell, LSTMCell and GRUCell: one time step, as PyTorch's cells. A cell runs the same fused
// kernel as the layers with T = 1, so its weights are prepared once and its numbers match theirs.

import { jsBackend } from '@recur/kernels-js';
import {
  ArgumentError,
  activeBackend,
  needsGrad,
  recordOp,
  type RecurrentLayout,
  type RecurrentMode,
  ShapeError,
  Tensor,
  describeValue,
  formatShape,
} from '@recur/core-tensor';
import { expectTensor } from './inputs.js';
import { RecurrentModule } from './module.js';
import { gradsInStateDictOrder, runLayersForRecompute, runLayersRecorded } from './recorded.js';
import { type CellArgs, resolveCellOptions } from './options.js';

abstract class CellBase extends RecurrentModule {
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly bias: boolean;
  readonly mode: RecurrentMode;

  protected constructor(kind: 'RNNCell' | 'LSTMCell' | 'GRUCell', args: unknown[], mode: (nl: 'tanh' | 'relu') => RecurrentMode) {
    super();
    const o = resolveCellOptions(kind, args as CellArgs);
    this.inputSize = o.inputSize;
    this.hiddenSize = o.hiddenSize;
    this.bias = o.bias;
    this.mode = mode(o.nonlinearity);
    this.initParameters(o.seed);
  }

  protected get layout(): RecurrentLayout {
    return { mode: this.mode, inputSize: this.inputSize, hiddenSize: this.hiddenSize, bias: this.bias, cell: true };
  }

  /** Checks `x` (`[B, I]` or `[I]`) and returns it with its batch size. */
  protected checkInput(x: unknown): { input: Tensor; batch: number; batched: boolean } {
    const input = expectTensor(this.kind, 'input', x);
    const rank = input.shape.length;
    if (rank !== 1 && rank !== 2) {
      throw new ShapeError(`${this.kind}: expected input of rank 1 or 2, got rank ${rank} with shape ${formatShape(input.shape)}`);
    }
    const features = input.shape[rank - 1]!;
    if (features !== this.inputSize) {
      throw new ShapeError(
        `${this.kind}: input has inconsistent inputSize: expected ${this.inputSize}, got ${features} (input shape ${formatShape(input.shape)})`,
      );
    }
    return { input, batch: rank === 2 ? input.shape[0]! : 1, batched: rank === 2 };
  }

  /** Checks a state (`[B, H]`, or `[H]` for unbatched input); null when not given. */
  protected checkState(name: string, value: unknown, batch: number, batched: boolean): Tensor | null {
    if (value === undefined || value === null) return null;
    const t = expectTensor(this.kind, name, value);
    const expected = batched ? [batch, this.hiddenSize] : [this.hiddenSize];
    if (t.shape.length !== expected.length) {
      throw new ShapeError(
        `${this.kind}: expected ${name} of rank ${expected.length} for ${batched ? 'batched 2-D' : 'unbatched 1-D'} input, got rank ${t.shape.length} with shape ${formatShape(t.shape)}`,
      );
    }
    if (batched && t.shape[0] !== batch) {
      throw new ShapeError(`${this.kind}: input batch size ${batch} doesn't match ${name} batch size ${t.shape[0]}`);
    }
    if (t.shape[t.shape.length - 1] !== this.hiddenSize) {
      throw new ShapeError(`${this.kind}: ${name} has inconsistent hiddenSize: expected ${this.hiddenSize}, got ${t.shape[t.shape.length - 1]}`);
    }
    return t;
  }

  /** One step through the fused kernel (recorded when anything requires grad); returns h' and (LSTM) c'. */
  protected step(input: Tensor, batch: number, batched: boolean, h: Tensor | null, c: Tensor | null): [Tensor, Tensor | null] {
    const H = this.hiddenSize;
    const isLstm = this.mode === 'lstm';
    const shape = batched ? [batch, H] : [H];
    const h0 = h?.values ?? null;
    const c0 = c?.values ?? null;
    const given = [input, ...(h ? [h] : []), ...(c ? [c] : [])];
    const params = this.parameterList;
    if (needsGrad(given) || needsGrad(params)) {
      const active = activeBackend();
      const k = this.preparedFor(active);
      const shapeOf = {
        numLayers: 1,
        numDirections: 1,
        hiddenSize: H,
        outputSize: H,
        isLstm,
        betweenLayers: null,
        inputSize: this.inputSize,
        bias: this.bias,
        projSize: 0,
        dropout: 0,
        uniform: () => 0,
      };
      const seq = { data: input.values, seqLen: 1, batch, rows: batch, batchSizes: null };
      const rec = active.capabilities?.backward
        ? runLayersRecorded(k, shapeOf, seq, h0, c0)
        : runLayersForRecompute(k, shapeOf, seq, h0, c0, () => this.preparedFor(jsBackend));
      const hN = new Tensor(rec.result.hN, shape);
      const cN = rec.result.cN ? new Tensor(rec.result.cN, shape) : null;
      recordOp(this.kind, [...given, ...params], cN ? [hN, cN] : [hN], ([gh, gc], retained) => {
        const g = rec.backward(null, gh ?? null, gc ?? null, retained);
        return [g.dx, ...(h ? [g.dh0] : []), ...(c ? [g.dc0] : []), ...gradsInStateDictOrder(this.layout, g.weights)];
      });
      return [hN, cN];
    }
    const { backend, weights, workspace } = this.preparedFor();
    const out = new Float32Array(batch * H);
    const hN = new Float32Array(batch * H);
    const cN = isLstm ? new Float32Array(batch * H) : null;
    backend.layer(
      { weights: weights[0]!, x: input.values, seqLen: 1, batch, h0, c0, out, outOffset: 0, outStride: H, hN, cN },
      workspace,
    );
    return [new Tensor(hN, shape), cN ? new Tensor(cN, shape) : null];
  }
}

/** The cells whose state is one tensor `h` (RNNCell and GRUCell). */
abstract class SingleStateCell extends CellBase {
  /** `x`: `[B, I]` or `[I]`; `h`: `[B, H]` or `[H]`, zeros when omitted. Returns h'. */
  forward(x: Tensor, h?: Tensor | null): Tensor {
    const { input, batch, batched } = this.checkInput(x);
    return this.step(input, batch, batched, this.checkState('hx', h, batch, batched), null)[0];
  }
}

/**
 * One step of an Elman RNN, as `torch.nn.RNNCell`.
 * @example
 * const cell = new RNNCell(4, 2);
 * let h = zeros([3, 2]);
 * for (const xt of steps) h = cell.forward(xt, h); // xt: [3, 4]
 */
export class RNNCell extends SingleStateCell {
  constructor(...args: CellArgs) {
    super('RNNCell', args, (nl) => (nl === 'relu' ? 'rnn_relu' : 'rnn_tanh'));
  }

  /** The activation: `'tanh'` (default) or `'relu'`, as PyTorch's `nonlinearity`. */
  get nonlinearity(): 'tanh' | 'relu' {
    return this.mode === 'rnn_relu' ? 'relu' : 'tanh';
  }

  protected get kind(): string {
    return 'RNNCell';
  }
}

/**
 * One step of a GRU, as `torch.nn.GRUCell`.
 * @example
 * const h1 = new GRUCell(4, 2).forward(tensor([[1, 2, 3, 4]]));
 */
export class GRUCell extends SingleStateCell {
  constructor(...args: CellArgs) {
    super('GRUCell', args, () => 'gru');
  }

  protected get kind(): string {
    return 'GRUCell';
  }
}

/**
 * One step of an LSTM, as `torch.nn.LSTMCell`.
 * @example
 * const [h, c] = new LSTMCell(4, 2).forward(tensor([[1, 2, 3, 4]]));
 */
export class LSTMCell extends CellBase {
  constructor(...args: CellArgs) {
    super('LSTMCell', args, () => 'lstm');
  }

  protected get kind(): string {
    return 'LSTMCell';
  }

  /** `x`: `[B, I]` or `[I]`; `hx`: `[h, c]` each `[B, H]` or `[H]`, zeros when omitted. Returns `[h', c']`. */
  forward(x: Tensor, hx?: readonly [Tensor, Tensor] | null): [Tensor, Tensor] {
    if (hx !== undefined && hx !== null && (!Array.isArray(hx) || hx.length !== 2)) {
      throw new ArgumentError(`LSTMCell: expected hx as [h, c], got ${describeValue(hx)}`);
    }
    const { input, batch, batched } = this.checkInput(x);
    const h = this.checkState('h', hx?.[0], batch, batched);
    const c = this.checkState('c', hx?.[1], batch, batched);
    const [hN, cN] = this.step(input, batch, batched, h, c);
    return [hN, cN!];
  }
}
