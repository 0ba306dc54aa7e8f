// Linear and Embedding: the heads and inputs every recurrent model needs, with PyTorch's parameter
// names, layouts and default initialisation (Linear: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias,
// as kaiming_uniform(a=sqrt(5)) works out; Embedding: N(0, 1)).

import {
  ArgumentError,
  RangeArgumentError,
  ShapeError,
  Tensor,
  describeValue,
  formatShape,
  checkElements,
  recordOp,
} from '@recur/core-tensor';
import { Module } from './module.js';

function positiveInt(kind: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new RangeArgumentError(`${kind}: ${name} must be an integer greater than zero, got ${describeValue(v)}`);
  }
  return v;
}

/**
 * Options of `Linear`, as PyTorch's `nn.Linear(in_features, out_features, bias=True)`.
 * @example
 * new Linear(16, 1, { bias: false, seed: 0 });
 */
export interface LinearOptions {
  /** Learn an additive bias (default true). */
  bias?: boolean;
  /** Seed of the default initialisation; random when omitted. */
  seed?: number;
}

/**
 * `y = x W^T + b` on the last dimension, as `torch.nn.Linear` (`weight` `[out, in]`, `bias` `[out]`).
 * @example
 * const head = new Linear(100, 1);
 * const y = head.forward(out); // [T, B, 100] -> [T, B, 1]
 */
export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;

  constructor(inFeatures: number, outFeatures: number, options: LinearOptions = {}) {
    super();
    this.inFeatures = positiveInt('Linear', 'inFeatures', inFeatures);
    this.outFeatures = positiveInt('Linear', 'outFeatures', outFeatures);
    if (typeof options !== 'object' || options === null) throw new ArgumentError(`Linear: expected options as an object, got ${describeValue(options)}`);
    checkElements('Linear', `a weight of ${outFeatures} x ${inFeatures}`, outFeatures * inFeatures);
    const g = Module.generator(options.seed);
    const bound = 1 / Math.sqrt(inFeatures);
    const uniform = (n: number) => Float32Array.from({ length: n }, () => -bound + 2 * bound * g.uniform());
    this.addParameter('weight', uniform(outFeatures * inFeatures), [outFeatures, inFeatures]);
    if (options.bias ?? true) this.addParameter('bias', uniform(outFeatures), [outFeatures]);
  }

  protected get kind(): string {
    return 'Linear';
  }

  /** `x`: `[..., inFeatures]` -> `[..., outFeatures]`. */
  forward(x: Tensor): Tensor {
    this.checkNotDisposed();
    if (!(x instanceof Tensor)) throw new ArgumentError(`Linear: expected input as a Tensor, got ${describeValue(x)}`);
    if (x.rank < 1 || x.shape[x.rank - 1] !== this.inFeatures) {
      throw new ShapeError(`Linear: expected input of shape [..., ${this.inFeatures}], got ${formatShape(x.shape)}`);
    }
    const w = this.params.get('weight')!;
    const b = this.params.get('bias');
    const y = x.matmul(w.transpose(0, 1));
    return b ? y.add(b) : y;
  }

  override toString(): string {
    return `Linear(inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}, bias=${this.params.has('bias')})`;
  }
}

/**
 * A lookup table of `numEmbeddings` vectors of size `embeddingDim`, as `torch.nn.Embedding` (`weight`).
 * @example
 * const emb = new Embedding(65, 32);
 * const x = emb.forward(Int32Array.of(3, 1, 4)); // [3, 32]
 */
export class Embedding extends Module {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;

  constructor(numEmbeddings: number, embeddingDim: number, options: { seed?: number } = {}) {
    super();
    this.numEmbeddings = positiveInt('Embedding', 'numEmbeddings', numEmbeddings);
    this.embeddingDim = positiveInt('Embedding', 'embeddingDim', embeddingDim);
    checkElements('Embedding', `a table of ${numEmbeddings} x ${embeddingDim}`, numEmbeddings * embeddingDim);
    const g = Module.generator(options?.seed);
    this.addParameter('weight', Float32Array.from({ length: numEmbeddings * embeddingDim }, () => g.normal()), [numEmbeddings, embeddingDim]);
  }

  protected get kind(): string {
    return 'Embedding';
  }

  /**
   * `indices`: a tensor of whole numbers (any shape) or a 1-D `Int32Array`; returns
   * `[...indicesShape, embeddingDim]`. An index outside `[0, numEmbeddings)` is an error.
   */
  forward(indices: Tensor | Int32Array): Tensor {
    this.checkNotDisposed();
    let idx: ArrayLike<number>;
    let shape: readonly number[];
    if (indices instanceof Int32Array) {
      idx = indices;
      shape = [indices.length];
    } else if (indices instanceof Tensor) {
      idx = indices.values;
      shape = indices.shape;
    } else {
      throw new ArgumentError(`Embedding: expected indices as a Tensor or an Int32Array, got ${describeValue(indices)}`);
    }
    const n = this.numEmbeddings;
    for (let i = 0; i < idx.length; i++) {
      const v = idx[i]!;
      if (!Number.isInteger(v) || v < 0 || v >= n) {
        throw new RangeArgumentError(`Embedding: index out of range: expected whole numbers in [0, ${n - 1}], got ${describeValue(v)} at position ${i}`);
      }
    }
    const D = this.embeddingDim;
    const w = this.params.get('weight')!;
    const wv = w.values;
    const out = new Float32Array(idx.length * D);
    for (let i = 0; i < idx.length; i++) out.set(wv.subarray(idx[i]! * D, (idx[i]! + 1) * D), i * D);
    const y = new Tensor(out, [...shape, D]);
    recordOp('Embedding', [w], [y], ([g]) => {
      const gw = new Float32Array(w.size);
      for (let i = 0; i < idx.length; i++) {
        const o = idx[i]! * D;
        for (let j = 0; j < D; j++) gw[o + j]! += g![i * D + j]!;
      }
      return [gw];
    });
    return y;
  }

  override toString(): string {
    return `Embedding(${this.numEmbeddings}, ${this.embeddingDim})`;
  }
}
