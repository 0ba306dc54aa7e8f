// Stateful streaming for real-time use: feed frames or chunks as they arrive and keep (h, c) inside.
// The per-frame path reuses every buffer, argument object and output tensor, so steady-state
// streaming allocates nothing; running whole, in chunks or frame by frame gives the same numbers.

import {
  ArgumentError,
  RangeArgumentError,
  type LayerArgs,
  type PreparedWeights,
  type RecurrentMode,
  ShapeError,
  Tensor,
  checkElements,
  describeValue,
  formatShape,
  noGrad,
} from '@recur/core-tensor';
import type { PreparedModule } from './module.js';

/** What a stream needs from its module (RecurrentBase implements it). */
export interface StreamHost {
  readonly mode: RecurrentMode;
  readonly numLayers: number;
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly outputSize: number;
  /** The current backend, the module's weights prepared for it and its workspace. */
  kernels(): PreparedModule;
  /** Dropout between layers when the module is training; a no-op otherwise. */
  dropoutBetweenLayers(x: Float32Array): void;
  /** Runs a padded chunk from states h, c; returns the output and the final states. */
  forwardChunk(chunk: Tensor, batch: number, h: Tensor, c: Tensor | null): { out: Tensor; h: Float32Array; c: Float32Array | null };
}

/** Options of `module.stream()`. @example const stream = new GRU(8, 16).stream({ batch: 2 }); */
export interface StreamOptions {
  /** Number of independent streams processed together (default 1). */
  batch?: number;
}

/**
 * A stream's recurrent state: `h` `[numLayers, B, projSize || H]`, `c` `[numLayers, B, H]` (LSTM).
 * @example
 * const stream = new LSTM(8, 16).stream();
 * const { h, c } = stream.state; // h [1, 1, 16], c [1, 1, 16]
 * stream.state = { h, c };       // restore
 */
export interface StreamState {
  h: Tensor;
  c: Tensor | null;
}

/**
 * A running stream over a unidirectional RNN, LSTM or GRU. Create it with `module.stream()`.
 * @example
 * const stream = lstm.stream({ batch: 1 });
 * for (const frame of frames) {           // frame: [1, inputSize] or [inputSize]
 *   const y = stream.step(frame);          // reused tensor: clone() it to keep it
 * }
 * const saved = stream.state;              // copies of h and c
 * stream.reset();                          // back to zeros
 */
export class RecurrentStream {
  readonly batch: number;
  private readonly h: Float32Array;
  private readonly c: Float32Array | null;
  private readonly layerOut: Float32Array[];
  private readonly frameIn: Float32Array;
  /** One argument object per layer, built for the prepared weights they were made with. */
  private args: LayerArgs[] = [];
  private argsWeights: PreparedWeights[] | null = null;
  private readonly outBatched: Tensor;
  private readonly outUnbatched: Tensor;

  constructor(
    private readonly host: StreamHost,
    private readonly kind: string,
    options: StreamOptions = {},
  ) {
    const B = options.batch ?? 1;
    if (!Number.isInteger(B) || B < 1) {
      throw new RangeArgumentError(`${kind}.stream: batch must be an integer greater than zero, got ${describeValue(B)}`);
    }
    const { numLayers: L, hiddenSize: H, outputSize: P } = host;
    // h, c, each layer's output and the input frame, counted before any of them is allocated.
    checkElements(`${kind}.stream`, `batch ${B}`, L * B * P + (host.mode === 'lstm' ? L * B * H : 0) + L * B * P + B * host.inputSize);
    this.batch = B;
    this.h = new Float32Array(L * B * P);
    this.c = host.mode === 'lstm' ? new Float32Array(L * B * H) : null;
    this.layerOut = Array.from({ length: L }, () => new Float32Array(B * P));
    this.frameIn = new Float32Array(B * host.inputSize);
    const last = this.layerOut[L - 1]!;
    this.outBatched = new Tensor(last, [B, P]);
    this.outUnbatched = new Tensor(last, [B * P]);
  }

  /** The per-layer kernel arguments for these weights; h0 and hN (c0 and cN) share a view: "update in place". */
  private argsFor(weights: PreparedWeights[]): LayerArgs[] {
    if (this.argsWeights === weights) return this.args;
    const B = this.batch;
    const { hiddenSize: H, outputSize: P } = this.host;
    this.args = this.layerOut.map((out, l) => {
      const h = this.h.subarray(l * B * P, (l + 1) * B * P);
      const c = this.c ? this.c.subarray(l * B * H, (l + 1) * B * H) : null;
      return {
        weights: weights[l]!,
        x: l === 0 ? this.frameIn : this.layerOut[l - 1]!,
        seqLen: 1,
        batch: B,
        h0: h,
        c0: c,
        out,
        outOffset: 0,
        outStride: P,
        hN: h,
        cN: c,
        reverse: false,
        batchSizes: null,
      };
    });
    this.argsWeights = weights;
    return this.args;
  }

  /**
   * Advances every stream by one frame: `[B, inputSize]` (or `[inputSize]` when B = 1, or a flat
   * Float32Array of B * inputSize values). Returns the last layer's output `[B, P]` (`[P]` for a 1-D
   * frame) in a tensor that is reused by the next call.
   */
  step(frame: Tensor | Float32Array): Tensor {
    const values = this.checkFrame(frame);
    const { backend, weights, workspace } = this.host.kernels();
    const args = this.argsFor(weights);
    const L = args.length;
    for (let l = 0; l < L; l++) {
      const a = args[l]!;
      if (l === 0) a.x = values;
      backend.layer(a, workspace);
      if (l < L - 1) this.host.dropoutBetweenLayers(a.out);
    }
    return frame instanceof Tensor && frame.shape.length === 1 ? this.outUnbatched : this.outBatched;
  }

  /**
   * Advances every stream by a chunk of frames: `[T, B, inputSize]` (`[B, T, inputSize]` when the module
   * is batchFirst) or `[T, inputSize]` when B = 1. Returns a new output tensor shaped like the forward's.
   */
  push(chunk: Tensor): Tensor {
    if (!(chunk instanceof Tensor)) throw new ArgumentError(`${this.kind}.stream.push: expected a Tensor chunk, got ${describeValue(chunk)}`);
    const batched = chunk.shape.length === 3;
    if (!batched && this.batch !== 1) {
      throw new ShapeError(
        `${this.kind}.stream.push: expected a chunk of rank 3 for a stream of batch ${this.batch}, got shape ${formatShape(chunk.shape)}`,
      );
    }
    const { h, c } = this.stateTensors(batched);
    // Streams are for inference: nothing is recorded (train with forward() and detach() instead).
    const r = noGrad(() => this.host.forwardChunk(chunk, this.batch, h, c));
    this.h.set(r.h);
    if (this.c && r.c) this.c.set(r.c);
    return r.out;
  }

  /** Copies of the current state. */
  get state(): StreamState {
    const { numLayers: L, hiddenSize: H, outputSize: P } = this.host;
    return {
      h: new Tensor(this.h.slice(), [L, this.batch, P]),
      c: this.c ? new Tensor(this.c.slice(), [L, this.batch, H]) : null,
    };
  }

  /** Restores a state read from `state` (checked first; a rejected state changes nothing). */
  set state(s: StreamState) {
    const { numLayers: L, hiddenSize: H, outputSize: P } = this.host;
    const check = (name: string, t: unknown, shape: number[]) => {
      if (!(t instanceof Tensor) || t.shape.length !== 3 || t.shape.some((d, i) => d !== shape[i])) {
        throw new ShapeError(`${this.kind}.stream.state: expected ${name} of shape ${formatShape(shape)}, got ${describeValue(t)}`);
      }
      return t.values;
    };
    const h = check('h', s?.h, [L, this.batch, P]);
    const c = this.c ? check('c', s?.c, [L, this.batch, H]) : null;
    this.h.set(h);
    if (this.c && c) this.c.set(c);
  }

  /** Zeros the state, as at the start of a new sequence. */
  reset(): void {
    this.h.fill(0);
    this.c?.fill(0);
  }

  private stateTensors(batched: boolean): { h: Tensor; c: Tensor | null } {
    const { numLayers: L, hiddenSize: H, outputSize: P } = this.host;
    const shape = (F: number) => (batched ? [L, this.batch, F] : [L, F]);
    return { h: new Tensor(this.h, shape(P)), c: this.c ? new Tensor(this.c, shape(H)) : null };
  }

  private checkFrame(frame: Tensor | Float32Array): Float32Array {
    // No string is built unless the frame is rejected: this runs once per frame.
    const B = this.batch;
    const I = this.host.inputSize;
    if (frame instanceof Float32Array) {
      if (frame.length !== B * I) {
        throw new ShapeError(`${this.kind}.stream.step: expected a frame of ${B * I} values ([${B},${I}]), got ${frame.length}`);
      }
      return frame;
    }
    if (!(frame instanceof Tensor)) {
      throw new ArgumentError(`${this.kind}.stream.step: expected a Tensor or Float32Array frame, got ${describeValue(frame)}`);
    }
    const s = frame.shape;
    const ok = (s.length === 2 && s[0] === B && s[1] === I) || (s.length === 1 && B === 1 && s[0] === I);
    if (!ok) {
      throw new ShapeError(
        `${this.kind}.stream.step: expected a frame of shape [${B},${I}]${B === 1 ? ` or [${I}]` : ''}, got ${formatShape(s)}`,
      );
    }
    return frame.values;
  }
}
