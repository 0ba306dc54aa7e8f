// The shared body of RNN, LSTM and GRU (PyTorch's RNNBase): parameters for every layer and direction,
// input and state checks with PyTorch's rules, and a forward pass that runs one fused kernel per
// layer and direction, writing both directions straight into one output buffer.

import {
  type Backend,
  type LayerArgs,
  type RecurrentMode,
  type RecurrentWeights,
  ShapeError,
  Tensor,
  activeBackend,
  formatShape,
  gateCount,
  type Generator,
} from '@recur/core-tensor';
import { RecurrentModule, expectTensor } from './module.js';
import { PackedSequence } from './packed.js';
import { RecurrentStream, type StreamOptions } from './stream.js';
import { type RecurrentArgs, type ResolvedRecurrentOptions, resolveRecurrentOptions } from './options.js';

/** Time-major activations handed between the layers: `[T, B, F]` padded, or packed rows. */
export interface SequenceBatch {
  data: Float32Array;
  seqLen: number;
  batch: number;
  /** Number of rows: `T * B` padded, `sum(batchSizes)` packed. */
  rows: number;
  /** Active sequences per step for packed input, else null. */
  batchSizes: Int32Array | null;
}

export interface RunResult {
  /** `[rows, D * outputSize]`: `[T, B, ...]` time-major, or packed rows. */
  out: Float32Array;
  /** `[L * D, B, outputSize]` */
  hN: Float32Array;
  /** `[L * D, B, hiddenSize]` (LSTM) or null. */
  cN: Float32Array | null;
}

export abstract class RecurrentBase extends RecurrentModule {
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
    const g = RecurrentModule.generator(o.seed);
    this.dropoutGenerator = RecurrentModule.generator(o.seed === undefined ? undefined : o.seed + 0x5bd1e995);
    const G = gateCount(this.mode);
    const H = this.hiddenSize;
    const P = this.outputSize;
    const bound = 1 / Math.sqrt(H);
    for (let l = 0; l < this.numLayers; l++) {
      for (let d = 0; d < this.numDirections; d++) {
        const sfx = `_l${l}${d === 1 ? '_reverse' : ''}`;
        const layerInput = l === 0 ? this.inputSize : P * this.numDirections;
        this.addParameter(`weight_ih${sfx}`, [G * H, layerInput], bound, g);
        this.addParameter(`weight_hh${sfx}`, [G * H, P], bound, g);
        if (this.bias) {
          this.addParameter(`bias_ih${sfx}`, [G * H], bound, g);
          this.addParameter(`bias_hh${sfx}`, [G * H], bound, g);
        }
        if (this.projSize > 0) this.addParameter(`weight_hr${sfx}`, [this.projSize, H], bound, g);
      }
    }
  }

  /** 2 when bidirectional, else 1 (PyTorch's `D`). */
  get numDirections(): number {
    return this.bidirectional ? 2 : 1;
  }

  /** Size of `h` and of each direction's output: `projSize || hiddenSize`. */
  get outputSize(): number {
    return this.projSize > 0 ? this.projSize : this.hiddenSize;
  }

  protected weightSpecs(): RecurrentWeights[] {
    const specs: RecurrentWeights[] = [];
    for (let l = 0; l < this.numLayers; l++) {
      for (let d = 0; d < this.numDirections; d++) {
        const sfx = `_l${l}${d === 1 ? '_reverse' : ''}`;
        specs.push({
          mode: this.mode,
          inputSize: l === 0 ? this.inputSize : this.outputSize * this.numDirections,
          hiddenSize: this.hiddenSize,
          projSize: this.projSize,
          weightIh: this.param(`weight_ih${sfx}`),
          weightHh: this.param(`weight_hh${sfx}`),
          biasIh: this.paramOrNull(`bias_ih${sfx}`),
          biasHh: this.paramOrNull(`bias_hh${sfx}`),
          weightHr: this.paramOrNull(`weight_hr${sfx}`),
        });
      }
    }
    return specs;
  }

  /**
   * Checks a padded input tensor and returns it time-major, plus whether it was batched.
   * `[T, B, I]` (or `[B, T, I]` with batchFirst) or unbatched `[T, I]`.
   */
  protected prepareInput(x: unknown): { seq: SequenceBatch; batched: boolean } {
    const input = expectTensor(this.kind, 'input', x);
    const rank = input.shape.length;
    if (rank !== 2 && rank !== 3) {
      throw new ShapeError(`${this.kind}: expected input of rank 2 or 3, got rank ${rank} with shape ${formatShape(input.shape)}`);
    }
    const features = input.shape[rank - 1]!;
    if (features !== this.inputSize) {
      throw new ShapeError(
        `${this.kind}: input.size(-1) must be equal to inputSize; expected ${this.inputSize}, got ${features} (input shape ${formatShape(input.shape)})`,
      );
    }
    if (rank === 2) {
      const T = input.shape[0]!;
      this.checkSeqLen(T, input.shape);
      return { seq: { data: input.values, seqLen: T, batch: 1, rows: T, batchSizes: null }, batched: false };
    }
    const [d0, d1] = input.shape as [number, number, number];
    const T = this.batchFirst ? d1 : d0;
    const B = this.batchFirst ? d0 : d1;
    this.checkSeqLen(T, input.shape);
    const data = this.batchFirst && T > 1 && B > 1 ? activeBackend().transpose(input.values, input.shape, [1, 0, 2]) : input.values;
    return { seq: { data, seqLen: T, batch: B, rows: T * B, batchSizes: null }, batched: true };
  }

  /** Checks a PackedSequence's data (`[rows, inputSize]`) and returns it as the layers' input. */
  protected preparePacked(p: PackedSequence): SequenceBatch {
    const data = p.data;
    if (data.shape.length !== 2 || data.shape[1] !== this.inputSize) {
      throw new ShapeError(
        `${this.kind}: expected PackedSequence data of shape [rows, ${this.inputSize}], got ${formatShape(data.shape)}`,
      );
    }
    return { data: data.values, seqLen: p.batchSizes.length, batch: p.batch, rows: data.shape[0]!, batchSizes: p.batchSizes };
  }

  private checkSeqLen(T: number, shape: readonly number[]): void {
    if (T === 0) throw new ShapeError(`${this.kind}: expected a sequence length greater than 0, got input shape ${formatShape(shape)}`);
  }

  /**
   * Checks an initial state against PyTorch's expected shape `[L*D, B, size]` (`[L*D, size]` unbatched).
   * Returns its values, or null when not given.
   */
  protected checkState(name: string, value: unknown, batch: number, size: number, batched: boolean): Float32Array | null {
    if (value === undefined || value === null) return null;
    const t = expectTensor(this.kind, name, value);
    const LD = this.numLayers * this.numDirections;
    if (t.shape.length !== (batched ? 3 : 2)) {
      throw new ShapeError(
        batched
          ? `${this.kind}: for batched 3-D input, ${name} should also be 3-D but got ${t.shape.length}-D tensor with shape ${formatShape(t.shape)}`
          : `${this.kind}: for unbatched 2-D input, ${name} should also be 2-D but got ${t.shape.length}-D tensor with shape ${formatShape(t.shape)}`,
      );
    }
    const expected = batched ? [LD, batch, size] : [LD, size];
    if (t.shape.some((d, i) => d !== expected[i])) {
      throw new ShapeError(`${this.kind}: expected ${name} of shape ${formatShape(expected)}, got ${formatShape(t.shape)}`);
    }
    return t.values;
  }

  /** Runs every layer and direction over a time-major batch. */
  protected run(seq: SequenceBatch, h0: Float32Array | null, c0: Float32Array | null): RunResult {
    const { backend, weights } = this.backendAndWeights();
    const T = seq.seqLen;
    const B = seq.batch;
    const D = this.numDirections;
    const P = this.outputSize;
    const H = this.hiddenSize;
    const isLstm = this.mode === 'lstm';
    const hN = new Float32Array(this.numLayers * D * B * P);
    const cN = isLstm ? new Float32Array(this.numLayers * D * B * H) : null;
    let input = seq.data;
    let out = input;
    for (let l = 0; l < this.numLayers; l++) {
      out = new Float32Array(seq.rows * D * P);
      for (let d = 0; d < D; d++) {
        const idx = l * D + d;
        const args: LayerArgs = {
          weights: weights[idx]!,
          x: input,
          seqLen: T,
          batch: B,
          h0: h0 ? h0.subarray(idx * B * P, (idx + 1) * B * P) : null,
          c0: c0 ? c0.subarray(idx * B * H, (idx + 1) * B * H) : null,
          out,
          outOffset: d * P,
          outStride: D * P,
          hN: hN.subarray(idx * B * P, (idx + 1) * B * P),
          cN: cN ? cN.subarray(idx * B * H, (idx + 1) * B * H) : null,
          reverse: d === 1,
          batchSizes: seq.batchSizes,
        };
        runKernel(backend, this.mode, args);
      }
      if (this.training && this.dropout > 0 && l < this.numLayers - 1) this.applyDropout(out);
      input = out;
    }
    return { out, hN, cN };
  }

  private applyDropout(x: Float32Array): void {
    const p = this.dropout;
    if (p === 1) {
      x.fill(0);
      return;
    }
    const scale = 1 / (1 - p);
    const g = this.dropoutGenerator;
    for (let i = 0; i < x.length; i++) x[i] = g.uniform() < p ? 0 : x[i]! * scale;
  }

  /** Wraps a run's output as PyTorch shapes it for a padded input. */
  protected shapeOutput(r: RunResult, seq: SequenceBatch, batched: boolean): { out: Tensor; hN: Tensor; cN: Tensor | null } {
    const T = seq.seqLen;
    const B = seq.batch;
    const F = this.numDirections * this.outputSize;
    const LD = this.numLayers * this.numDirections;
    const stateShape = (size: number) => (batched ? [LD, B, size] : [LD, size]);
    let out: Tensor;
    if (!batched) out = new Tensor(r.out, [T, F]);
    else if (this.batchFirst) {
      const data = T > 1 && B > 1 ? activeBackend().transpose(r.out, [T, B, F], [1, 0, 2]) : r.out;
      out = new Tensor(data, [B, T, F]);
    } else out = new Tensor(r.out, [T, B, F]);
    return {
      out,
      hN: new Tensor(r.hN, stateShape(this.outputSize)),
      cN: r.cN ? new Tensor(r.cN, stateShape(this.hiddenSize)) : null,
    };
  }

  /**
   * The whole forward pass: a padded tensor or a PackedSequence in, the same kind out, with the
   * states `h0`/`c0` (`c0` LSTM only) checked against PyTorch's shapes.
   */
  protected forwardAny(
    x: unknown,
    h0: unknown,
    c0: unknown,
  ): { out: Tensor | PackedSequence; hN: Tensor; cN: Tensor | null } {
    const isLstm = this.mode === 'lstm';
    if (x instanceof PackedSequence) {
      const seq = this.preparePacked(x);
      const B = seq.batch;
      const order = x.sortedIndices;
      const h = this.checkState(isLstm ? 'h0' : 'hx', h0, B, this.outputSize, true);
      const c = isLstm ? this.checkState('c0', c0, B, this.hiddenSize, true) : null;
      const sort = (v: Float32Array | null, F: number) => (v && order ? selectBatch(v, B, F, order) : v);
      const r = this.run(seq, sort(h, this.outputSize), sort(c, this.hiddenSize));
      const back = x.unsortedIndices;
      const LD = this.numLayers * this.numDirections;
      const unsort = (v: Float32Array, F: number) => new Tensor(back ? selectBatch(v, B, F, back) : v, [LD, B, F]);
      return {
        out: new PackedSequence(new Tensor(r.out, [seq.rows, this.numDirections * this.outputSize]), x.batchSizes, order, back),
        hN: unsort(r.hN, this.outputSize),
        cN: r.cN ? unsort(r.cN, this.hiddenSize) : null,
      };
    }
    const { seq, batched } = this.prepareInput(x);
    const h = this.checkState(isLstm ? 'h0' : 'hx', h0, seq.batch, this.outputSize, batched);
    const c = isLstm ? this.checkState('c0', c0, seq.batch, this.hiddenSize, batched) : null;
    return this.shapeOutput(this.run(seq, h, c), seq, batched);
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
      throw new RangeError(
        `${this.kind}.stream: a bidirectional module cannot stream, its reverse direction needs the whole sequence; run forward() on complete sequences instead`,
      );
    }
    return new RecurrentStream(
      {
        kind: this.kind,
        numLayers: this.numLayers,
        inputSize: this.inputSize,
        hiddenSize: this.hiddenSize,
        outputSize: this.outputSize,
        isLstm: this.mode === 'lstm',
        prepared: () => this.backendAndWeights(),
        betweenLayers: (x) => {
          if (this.training && this.dropout > 0) this.applyDropout(x);
        },
        runChunk: (chunk, batch, h, c) => {
          const chunkBatch = chunk.shape.length === 3 ? chunk.shape[this.batchFirst ? 0 : 1] : 1;
          if (chunkBatch !== batch) {
            throw new ShapeError(`${this.kind}.stream.push: expected a chunk of batch ${batch}, got shape ${formatShape(chunk.shape)}`);
          }
          const r = this.forwardAny(chunk, h, c);
          return { out: r.out as Tensor, h: r.hN.values, c: r.cN?.values ?? null };
        },
      },
      options,
    );
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

export function runKernel(backend: Backend, mode: RecurrentMode, args: LayerArgs): void {
  if (mode === 'lstm') backend.lstmLayer(args);
  else if (mode === 'gru') backend.gruLayer(args);
  else backend.rnnLayer(args);
}

/** Picks batch entries of a `[LD, B, F]` state: `out[l, i] = v[l, indices[i]]`. */
function selectBatch(v: Float32Array, B: number, F: number, indices: Int32Array): Float32Array {
  const out = new Float32Array(v.length);
  const LD = v.length / (B * F);
  for (let l = 0; l < LD; l++) {
    for (let i = 0; i < B; i++) {
      const src = (l * B + indices[i]!) * F;
      out.set(v.subarray(src, src + F), (l * B + i) * F);
    }
  }
  return out;
}
