// The shared body of RNN, LSTM and GRU (PyTorch's RNNBase): options, parameters in PyTorch's layout,
// and the forward pass (sync, and async for device-resident backends) that ties the input checks,
// the run loop and the output shaping together. Streaming lives in stream.ts.

import {
  type Backend,
  BackendError,
  RangeArgumentError,
  type Generator,
  type RecurrentLayout,
  type RecurrentMode,
  ShapeError,
  type Tensor,
  activeBackend,
  formatShape,
  needsGrad,
  recordOp,
  warnOnce,
} from '@recur/core-tensor';
import { jsBackend } from '@recur/kernels-js';
import { type SequenceBatch, expectTensor, initialState, packedInput, sequenceInput, swapLeadingAxes } from './inputs.js';
import { type PreparedModule, RecurrentModule } from './module.js';
import { type RecurrentArgs, type ResolvedRecurrentOptions, resolveRecurrentOptions } from './options.js';
import { type OutputShape, type Shaped, packedResult, paddedResult, selectBatch } from './output.js';
import { PackedSequence } from './packed.js';
import { applyDropout, gradsInStateDictOrder, runLayersForRecompute, runLayersRecorded } from './recorded.js';
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
  /** The caller's tensors: the input (a packed sequence's data) and the initial states given. */
  tensors: Tensor[];
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
    if (o.dropout > 0 && o.numLayers === 1) {
      // PyTorch's warning, word for word in substance.
      warnOnce(
        `${kind}: dropout option adds dropout after all but last recurrent layer, so non-zero dropout expects numLayers greater than 1, but got dropout=${o.dropout} and numLayers=1`,
      );
    }
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
    if (this.training && this.dropout > 0) applyDropout(x, this.dropout, this.uniform);
  }

  /** Draws of the dropout generator (bound once, so no closure is made per call). */
  private readonly uniform = () => this.dropoutGenerator.uniform();

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
      return { seq, h0: sort(h, this.outputSize), c0: sort(c, this.hiddenSize), packed: x, batched: true, tensors: this.given(x.data, h0, c0) };
    }
    const { seq, batched } = sequenceInput(this.kind, x, this.inputSize, this.batchFirst);
    const withHint = <T>(read: () => T): T => {
      try {
        return read();
      } catch (error) {
        // A batch size that matches only in the other layout means [B, T, I] met a time-first module (or the reverse).
        const given = (h0 as Tensor | null | undefined)?.shape?.[1];
        if (ShapeError.isInstance(error) && batched && given === seq.seqLen && given !== seq.batch) {
          const layout = this.batchFirst ? '[T, B, I] input needs batchFirst: false' : '[B, T, I] input needs batchFirst: true';
          throw new ShapeError(`${(error as Error).message} (the state's batch ${given} is the input's ${this.batchFirst ? 'second' : 'first'} dimension: a ${layout})`);
        }
        throw error;
      }
    };
    const h = withHint(() => initialState(this.kind, hName, h0, LD, seq.batch, this.outputSize, batched));
    const c = isLstm ? withHint(() => initialState(this.kind, 'c0', c0, LD, seq.batch, this.hiddenSize, batched)) : null;
    return { seq, h0: h, c0: c, packed: null, batched, tensors: this.given(expectTensor(this.kind, 'input', x), h0, c0) };
  }

  private given(x: Tensor, h0: unknown, c0: unknown): Tensor[] {
    const t = [x];
    if (h0) t.push(h0 as Tensor);
    if (c0 && this.mode === 'lstm') t.push(c0 as Tensor);
    return t;
  }

  private shape(call: CheckedCall, r: RunResult): Shaped<Tensor | PackedSequence> {
    return call.packed
      ? packedResult(r, call.packed, call.seq.rows, this.outputShape)
      : paddedResult(r, call.seq, call.batched, this.outputShape);
  }

  /** The whole forward pass: a padded tensor or a PackedSequence in, the same kind out. */
  protected forwardAny(x: unknown, h0: unknown, c0: unknown): Shaped<Tensor | PackedSequence> {
    const call = this.checkCall(x, h0, c0);
    const active = activeBackend();
    if (active.capabilities?.async && !active.capabilities.sync) throw this.asyncError(active.name);
    if (needsGrad(call.tensors) || needsGrad(this.parameterList)) return this.forwardRecorded(call, active);
    return this.shape(call, runLayers(this.preparedFor(active), this.runShape, call.seq, call.h0, call.c0));
  }

  /**
   * The forward pass recorded as one node of the autograd tape: every layer direction keeps its
   * activations in a training workspace and the node's backward runs the fused backward kernels.
   * Runs on the current backend where it declares `backward`, else on the js kernels.
   */
  private forwardRecorded(call: CheckedCall, active: Backend): Shaped<Tensor | PackedSequence> {
    const k = this.preparedFor(active);
    const shapeOf = {
      ...this.runShape,
      betweenLayers: null,
      inputSize: this.inputSize,
      bias: this.bias,
      projSize: this.projSize,
      dropout: this.training ? this.dropout : 0,
      uniform: this.uniform,
    };
    const rec = active.capabilities?.backward
      ? runLayersRecorded(k, shapeOf, call.seq, call.h0, call.c0)
      : runLayersForRecompute(k, shapeOf, call.seq, call.h0, call.c0, () => this.preparedFor(jsBackend));
    const shaped = this.shape(call, rec.result);
    const outputs = [shaped.out instanceof PackedSequence ? shaped.out.data : shaped.out, shaped.hN];
    if (shaped.cN) outputs.push(shaped.cN);
    const params = this.parameterList;
    const { seqLen: T, batch: B } = call.seq;
    const P = this.outputSize;
    const H = this.hiddenSize;
    const D = this.numDirections;
    const order = call.packed?.sortedIndices ?? null;
    const back = call.packed?.unsortedIndices ?? null;
    const pick = (v: Float32Array | null, F: number, idx: Int32Array | null) => (v && idx ? selectBatch(v, B, F, idx) : v);
    const batchFirst = this.batchFirst && call.batched && !call.packed;
    recordOp(`${this.kind}.forward`, [...call.tensors, ...params], outputs, ([gOut, ghN, gcN], retained) => {
      const rows = gOut && batchFirst ? swapLeadingAxes(gOut, B, T, D * P) : (gOut ?? null);
      const g = rec.backward(rows, pick(ghN ?? null, P, order), pick(gcN ?? null, H, order), retained);
      const grads: Array<Float32Array | null> = [batchFirst ? swapLeadingAxes(g.dx, T, B, this.inputSize) : g.dx];
      if (call.h0) grads.push(pick(g.dh0, P, back));
      if (call.c0) grads.push(pick(g.dc0, H, back));
      grads.push(...gradsInStateDictOrder(this.layout, g.weights));
      return grads;
    });
    return shaped;
  }

  /** `forwardAny` on any backend: device-resident on an async backend, the synchronous pass otherwise. */
  protected async forwardAnyAsync(x: unknown, h0: unknown, c0: unknown): Promise<Shaped<Tensor | PackedSequence>> {
    const caps = activeBackend().capabilities;
    if (!caps?.async) return this.forwardAny(x, h0, c0);
    const call = this.checkCall(x, h0, c0);
    if (needsGrad(call.tensors) || needsGrad(this.parameterList)) {
      // A backend that also runs synchronously records the forward there, as forward() does.
      if (caps.sync) return this.forwardAny(x, h0, c0);
      // Device-resident backends have no recorded path yet: say so rather than drop the gradients.
      throw new BackendError(
        `${this.kind}.forwardAsync: backend '${activeBackend().name}' cannot record gradients yet; for inference call requiresGrad_(false) on the module, or train on 'wasm' or 'js'`,
      );
    }
    const k = this.preparedFor();
    return this.shape(call, await runLayersAsync(k, this.runShape, call.seq, call.h0, call.c0));
  }

  private asyncError(backend: string): BackendError {
    return new BackendError(
      `${this.kind}.forward: backend '${backend}' runs asynchronously; use await ${this.kind.toLowerCase()}.forwardAsync(...)`,
    );
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
