// The shared body of RNN, LSTM and GRU (PyTorch's RNNBase): options, parameters in PyTorch's layout,
// and the forward pass (sync, and async for device-resident backends) that ties the input checks,
// the run loop and the output shaping together. Streaming lives in stream.ts.

import {
  BackendError,
  RangeArgumentError,
  type Generator,
  type RecurrentLayout,
  type RecurrentMode,
  ShapeError,
  type Tensor,
  formatShape,
} from '@recur/core-tensor';
import { type SequenceBatch, initialState, packedInput, sequenceInput } from './inputs.js';
import { type PreparedModule, RecurrentModule } from './module.js';
import { type RecurrentArgs, type ResolvedRecurrentOptions, resolveRecurrentOptions } from './options.js';
import { type OutputShape, type Shaped, packedResult, paddedResult, selectBatch } from './output.js';
import { PackedSequence } from './packed.js';
import { type RunResult, type RunShape, runLayers, runLayersAsync } from './run.js';
import { RecurrentStream, type StreamHost, type StreamOptions } from './stream.js';

/** A forward pass's checked input: the time-major batch and the initial states in kernel order. */
interface CheckedCall {
  seq: SequenceBatch;
  h0: Float32Array | null;
  c0: Float32Array | null;
  /** The packed input, or null for a padded one. */
  packed: PackedSequence | null;
  batched: boolean;
}

export abstract class RecurrentBase extends RecurrentModule implements StreamHost {
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly bias: boolean;
  readonly batchFirst: boolean;
  readonly dropout: number;
  readonly bidirectional: boolean;
  readonly projSize: number;
  readonly mode: RecurrentMode;
  private readonly dropoutGenerator: Generator;

  protected constructor(kind: 'RNN' | 'LSTM' | 'GRU', args: unknown[], modeOf: (o: ResolvedRecurrentOptions) => RecurrentMode) {
    super();
    const o = resolveRecurrentOptions(kind, args as RecurrentArgs);
    this.inputSize = o.inputSize;
    this.hiddenSize = o.hiddenSize;
    this.numLayers = o.numLayers;
    this.bias = o.bias;
    this.batchFirst = o.batchFirst;
    this.dropout = o.dropout;
    this.bidirectional = o.bidirectional;
    this.projSize = o.projSize;
    this.mode = modeOf(o);
    this.dropoutGenerator = RecurrentModule.generator(o.seed === undefined ? undefined : o.seed + 0x5bd1e995);
    this.initParameters(o.seed);
  }

  protected get layout(): RecurrentLayout {
    return {
      mode: this.mode,
      inputSize: this.inputSize,
      hiddenSize: this.hiddenSize,
      numLayers: this.numLayers,
      bidirectional: this.bidirectional,
      bias: this.bias,
      projSize: this.projSize,
    };
  }

  /** 2 when bidirectional, else 1 (PyTorch's `D`). */
  get numDirections(): number {
    return this.bidirectional ? 2 : 1;
  }

  /** Size of `h` and of each direction's output: `projSize || hiddenSize`. */
  get outputSize(): number {
    return this.projSize > 0 ? this.projSize : this.hiddenSize;
  }

  /** @internal Dropout on a layer's output in place, when training with `dropout > 0` (else nothing). */
  dropoutBetweenLayers(x: Float32Array): void {
    if (!this.training || this.dropout === 0) return;
    const p = this.dropout;
    if (p === 1) {
      x.fill(0);
      return;
    }
    const scale = 1 / (1 - p);
    const g = this.dropoutGenerator;
    for (let i = 0; i < x.length; i++) x[i] = g.uniform() < p ? 0 : x[i]! * scale;
  }

  /** @internal The current backend's prepared weights and workspace (for streams). */
  kernels(): PreparedModule {
    return this.preparedFor();
  }

  private get runShape(): RunShape {
    return {
      numLayers: this.numLayers,
      numDirections: this.numDirections,
      hiddenSize: this.hiddenSize,
      outputSize: this.outputSize,
      isLstm: this.mode === 'lstm',
      betweenLayers: this.training && this.dropout > 0 ? (x) => this.dropoutBetweenLayers(x) : null,
    };
  }

  private get outputShape(): OutputShape {
    return {
      LD: this.numLayers * this.numDirections,
      features: this.numDirections * this.outputSize,
      outputSize: this.outputSize,
      hiddenSize: this.hiddenSize,
      batchFirst: this.batchFirst,
    };
  }

  /** Checks a forward call's input and states (`c0` LSTM only) against PyTorch's shapes. */
  private checkCall(x: unknown, h0: unknown, c0: unknown): CheckedCall {
    const isLstm = this.mode === 'lstm';
    const LD = this.numLayers * this.numDirections;
    const hName = isLstm ? 'h0' : 'hx';
    if (x instanceof PackedSequence) {
      const seq = packedInput(this.kind, x, this.inputSize);
      const B = seq.batch;
      const order = x.sortedIndices;
      const sort = (v: Float32Array | null, F: number) => (v && order ? selectBatch(v, B, F, order) : v);
      const h = initialState(this.kind, hName, h0, LD, B, this.outputSize, true);
      const c = isLstm ? initialState(this.kind, 'c0', c0, LD, B, this.hiddenSize, true) : null;
      return { seq, h0: sort(h, this.outputSize), c0: sort(c, this.hiddenSize), packed: x, batched: true };
    }
    const { seq, batched } = sequenceInput(this.kind, x, this.inputSize, this.batchFirst);
    const h = initialState(this.kind, hName, h0, LD, seq.batch, this.outputSize, batched);
    const c = isLstm ? initialState(this.kind, 'c0', c0, LD, seq.batch, this.hiddenSize, batched) : null;
    return { seq, h0: h, c0: c, packed: null, batched };
  }

  private shape(call: CheckedCall, r: RunResult): Shaped<Tensor | PackedSequence> {
    return call.packed
      ? packedResult(r, call.packed, call.seq.rows, this.outputShape)
      : paddedResult(r, call.seq, call.batched, this.outputShape);
  }

  /** The whole forward pass: a padded tensor or a PackedSequence in, the same kind out. */
  protected forwardAny(x: unknown, h0: unknown, c0: unknown): Shaped<Tensor | PackedSequence> {
    const call = this.checkCall(x, h0, c0);
    const k = this.preparedFor();
    if (k.backend.capabilities?.async) {
      throw new BackendError(
        `${this.kind}.forward: backend '${k.backend.name}' runs asynchronously; use await ${this.kind.toLowerCase()}.forwardAsync(...)`,
      );
    }
    return this.shape(call, runLayers(k, this.runShape, call.seq, call.h0, call.c0));
  }

  /** `forwardAny` on any backend: device-resident on an async backend, the synchronous pass otherwise. */
  protected async forwardAnyAsync(x: unknown, h0: unknown, c0: unknown): Promise<Shaped<Tensor | PackedSequence>> {
    const call = this.checkCall(x, h0, c0);
    const k = this.preparedFor();
    const r = k.backend.capabilities?.async
      ? await runLayersAsync(k, this.runShape, call.seq, call.h0, call.c0)
      : runLayers(k, this.runShape, call.seq, call.h0, call.c0);
    return this.shape(call, r);
  }

  /** @internal Runs a padded chunk from the states h, c (for `stream().push`). */
  forwardChunk(chunk: Tensor, batch: number, h: Tensor, c: Tensor | null): { out: Tensor; h: Float32Array; c: Float32Array | null } {
    const chunkBatch = chunk.shape.length === 3 ? chunk.shape[this.batchFirst ? 0 : 1] : 1;
    if (chunkBatch !== batch) {
      throw new ShapeError(`${this.kind}.stream.push: expected a chunk of batch ${batch}, got shape ${formatShape(chunk.shape)}`);
    }
    const r = this.forwardAny(chunk, h, c);
    return { out: r.out as Tensor, h: r.hN.values, c: r.cN?.values ?? null };
  }

  /**
   * A stateful stream for real-time use: `step(frame)` / `push(chunk)` carry `(h, c)` from call to
   * call. Running a sequence whole, in chunks or frame by frame gives the same numbers. Only
   * unidirectional modules can stream.
   * @example
   * const stream = lstm.stream({ batch: 1 });
   * const y = stream.step(frame); // [1, H]
   */
  stream(options: StreamOptions = {}): RecurrentStream {
    if (this.bidirectional) {
      throw new RangeArgumentError(
        `${this.kind}.stream: a bidirectional module cannot stream, its reverse direction needs the whole sequence; run forward() on complete sequences instead`,
      );
    }
    return new RecurrentStream(this, this.kind, options);
  }

  override toString(): string {
    const extras = [
      this.numLayers !== 1 ? `numLayers=${this.numLayers}` : '',
      this.mode === 'rnn_relu' ? "nonlinearity='relu'" : '',
      this.bias ? '' : 'bias=false',
      this.batchFirst ? 'batchFirst=true' : '',
      this.dropout ? `dropout=${this.dropout}` : '',
      this.bidirectional ? 'bidirectional=true' : '',
      this.projSize ? `projSize=${this.projSize}` : '',
    ].filter(Boolean);
    return `${this.kind}(${[this.inputSize, this.hiddenSize, ...extras].join(', ')})`;
  }
}
