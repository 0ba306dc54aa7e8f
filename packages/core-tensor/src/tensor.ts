// The float32 Tensor: an immutable shape over row-major data held in a Float32Array, and, when it
// requires grad, its place on the autograd tape. Kernels read and write plain Float32Arrays; a Tensor
// is what users hold. The differentiable operations live in ops.ts, the tape in autograd.ts.

import { type BackwardOptions, type GradNode, GradError, runBackward } from './autograd.js';
import { ArgumentError, ShapeError, describeValue, formatShape } from './errors.js';
import { checkElements } from './limits.js';
import * as ops from './ops.js';
import { Generator, globalGenerator } from './rng.js';

/**
 * Nested arrays of numbers, as accepted by `tensor()` and returned by `toArray()`.
 * @example
 * const rows: NestedArray = [[1, 2], [3, 4]];
 * tensor(rows).toArray(); // [[1, 2], [3, 4]]
 */
export type NestedArray = number | NestedArray[];

/** The element type of a tensor: recur computes in float32, as PyTorch's default. */
export type DType = 'float32';

/**
 * Options of tensor creation.
 * @example
 * const w = tensor([[0.5, -1]], [1, 2], { requiresGrad: true });
 */
export interface TensorOptions {
  /** Record operations on this tensor so gradients reach `.grad` (default false). */
  requiresGrad?: boolean;
}

/**
 * An n-dimensional float32 array, row-major (C order).
 * @example
 * const x = tensor([[1, 2], [3, 4]]);
 * x.shape; // [2, 2]
 * x.toArray(); // [[1, 2], [3, 4]]
 */
export class Tensor {
  readonly shape: readonly number[];
  readonly dtype: DType = 'float32';
  readonly size: number;
  #data: Float32Array | null;
  #requiresGrad = false;
  #grad: Tensor | null = null;
  #gradFn: GradNode | null = null;
  #outputIndex = 0;
  #version = 0;

  /** Wraps `data` (not copied) as a tensor of `shape`; throws `ShapeError` if the sizes differ. */
  constructor(data: Float32Array, shape: readonly number[], options?: TensorOptions) {
    const size = checkShape(shape, 'Tensor');
    if (!(data instanceof Float32Array)) {
      throw new ShapeError(`Tensor: expected data as a Float32Array, got ${describe(data)}`);
    }
    if (data.length !== size) {
      throw new ShapeError(
        `Tensor: data has ${data.length} values, expected ${size} for shape ${formatShape(shape)}`,
      );
    }
    this.shape = Object.freeze([...shape]);
    this.size = size;
    this.#data = data;
    if (options?.requiresGrad) this.requiresGrad = true;
  }

  /** Number of dimensions. */
  get rank(): number {
    return this.shape.length;
  }

  /**
   * The backing array itself, without a copy. For kernels and modules that only read it;
   * writing to it changes the tensor (call `markModified()` afterwards).
   */
  get values(): Float32Array {
    if (this.#data === null) throw new ShapeError('Tensor: used after dispose()');
    return this.#data;
  }

  /** A copy of the values, row-major. */
  dataSync(): Float32Array {
    return this.values.slice();
  }

  /** The values, row-major, as a promise: the read every backend supports. */
  data(): Promise<Float32Array> {
    return Promise.resolve(this.dataSync());
  }

  /** The values as nested arrays mirroring the shape (a number for a scalar). */
  toArray(): NestedArray {
    const data = this.values;
    const build = (dim: number, offset: number, stride: number): NestedArray => {
      if (dim === this.shape.length) return data[offset]!;
      const n = this.shape[dim]!;
      const inner = stride / n;
      const out: NestedArray[] = new Array(n);
      for (let i = 0; i < n; i++) out[i] = build(dim + 1, offset + i * inner, inner);
      return out;
    };
    return build(0, 0, this.size);
  }

  // ---- autograd ----

  /**
   * Whether operations on this tensor are recorded so that `backward()` reaches it. Settable on
   * leaves (tensors not produced by a recorded operation), as PyTorch's `requires_grad`.
   */
  get requiresGrad(): boolean {
    return this.#requiresGrad;
  }

  /** Only a leaf's flag can be turned off (a GradError otherwise); non-booleans are an ArgumentError. */
  set requiresGrad(flag: boolean) {
    if (typeof flag !== 'boolean') throw new ArgumentError(`Tensor.requiresGrad: expected a boolean, got ${describeValue(flag)}`);
    if (this.#gradFn && !flag) {
      throw new GradError('Tensor.requiresGrad: can only change the flag of a leaf tensor; use detach() to cut a non-leaf out of the graph');
    }
    this.#requiresGrad = flag;
  }

  /** Sets `requiresGrad` and returns the tensor. @example const w = randn([3, 2]).requiresGrad_(); */
  requiresGrad_(flag = true): this {
    this.requiresGrad = flag;
    return this;
  }

  /** The gradient accumulated by `backward()` (null until one reaches this leaf, or after zeroing). */
  get grad(): Tensor | null {
    return this.#grad;
  }

  /** Replaces the gradient: null, or a tensor of this tensor's shape (a ShapeError otherwise). */
  set grad(g: Tensor | null) {
    if (g !== null && (!(g instanceof Tensor) || g.shape.length !== this.shape.length || g.shape.some((d, i) => d !== this.shape[i]))) {
      throw new ShapeError(`Tensor.grad: expected null or a tensor of shape ${formatShape(this.shape)}, got ${describeValue(g)}`);
    }
    this.#grad = g;
  }

  /** The recorded operation that produced this tensor, or null for a leaf. */
  get gradFn(): GradNode | null {
    return this.#gradFn;
  }

  /** Which output of `gradFn` this tensor is. */
  get outputIndex(): number {
    return this.#outputIndex;
  }

  /** True unless this tensor was produced by a recorded operation. */
  get isLeaf(): boolean {
    return this.#gradFn === null;
  }

  /**
   * Computes the gradients of this tensor with respect to every leaf that requires grad and adds
   * them to their `.grad`. A scalar needs no `gradient`; any other tensor needs one of its shape.
   * @example
   * const loss = mseLoss(pred, target); loss.backward(); w.grad;
   */
  backward(gradient?: Tensor | null, options?: BackwardOptions): void {
    let seed: Float32Array;
    if (gradient === undefined || gradient === null) {
      if (this.size !== 1) {
        throw new GradError(
          `backward: a gradient can be implied only for a scalar output; expected a gradient of shape ${formatShape(this.shape)} as backward(gradient)`,
        );
      }
      seed = Float32Array.of(1);
    } else {
      if (!(gradient instanceof Tensor) || gradient.shape.length !== this.shape.length || gradient.shape.some((d, i) => d !== this.shape[i])) {
        throw new ShapeError(`backward: expected a gradient of shape ${formatShape(this.shape)}, got ${describeValue(gradient)}`);
      }
      seed = gradient.values;
    }
    runBackward(this, seed, options);
  }

  /** A tensor sharing these values, cut out of the graph (no grad). @example hN = hN.detach(); */
  detach(): Tensor {
    return new Tensor(this.values, this.shape);
  }

  /** Counts in-place changes, so cached forms of the values (prepared weights) know to rebuild. */
  get version(): number {
    return this.#version;
  }

  /** Records that `values` were changed in place (optimizers and loaders call it). */
  markModified(): void {
    this.#version++;
  }

  /** @internal Attaches the recorded operation that produced this tensor. */
  _attach(node: GradNode, index: number): void {
    this.#gradFn = node;
    this.#outputIndex = index;
    this.#requiresGrad = true;
  }

  /** @internal Adds a gradient into `.grad` (a leaf's accumulation, as PyTorch's AccumulateGrad). */
  _accumulateGrad(g: Float32Array): void {
    if (!this.#grad) {
      this.#grad = new Tensor(Float32Array.from(g), this.shape);
      return;
    }
    const v = this.#grad.values;
    for (let i = 0; i < v.length; i++) v[i]! += g[i]!;
  }

  // ---- operations (recorded when an operand requires grad) ----

  /** `this + other`, broadcasting as PyTorch. */
  add(other: Tensor | number): Tensor {
    return ops.add(this, other);
  }

  /** `this - other`, broadcasting as PyTorch. */
  sub(other: Tensor | number): Tensor {
    return ops.sub(this, other);
  }

  /** `this * other`, elementwise, broadcasting as PyTorch. */
  mul(other: Tensor | number): Tensor {
    return ops.mul(this, other);
  }

  /** `this / other`, elementwise, broadcasting as PyTorch. */
  div(other: Tensor | number): Tensor {
    return ops.div(this, other);
  }

  /** `-this`, elementwise. */
  neg(): Tensor {
    return ops.neg(this);
  }

  /** `this @ other` for `other` of rank 1 or 2 (batched on the left). */
  matmul(other: Tensor): Tensor {
    return ops.matmul(this, other);
  }

  /** Sum over `dim`, or of every element when omitted. */
  sum(dim?: number, keepDim = false): Tensor {
    return ops.sum(this, dim, keepDim);
  }

  /** Mean over `dim`, or of every element when omitted. */
  mean(dim?: number, keepDim = false): Tensor {
    return ops.mean(this, dim, keepDim);
  }

  /** `e^this`, elementwise. */
  exp(): Tensor {
    return ops.exp(this);
  }

  /** The natural logarithm, elementwise (NaN below 0, -Infinity at 0, as PyTorch). */
  log(): Tensor {
    return ops.log(this);
  }

  /** The hyperbolic tangent, elementwise. */
  tanh(): Tensor {
    return ops.tanh(this);
  }

  /** The logistic sigmoid `1 / (1 + e^-x)`, elementwise. */
  sigmoid(): Tensor {
    return ops.sigmoid(this);
  }

  /** `max(x, 0)`, elementwise. */
  relu(): Tensor {
    return ops.relu(this);
  }

  /** Softmax along `dim` (negative from the end), as `torch.softmax`. @example tensor([[1, 2, 3]]).softmax(-1) */
  softmax(dim: number): Tensor {
    return ops.softmax(this, dim);
  }

  /** The logarithm of the softmax along `dim`, computed stably, as `torch.log_softmax`. */
  logSoftmax(dim: number): Tensor {
    return ops.logSoftmax(this, dim);
  }

  /** The same values in another shape; `-1` infers one dimension. */
  reshape(shape: readonly number[]): Tensor {
    return ops.reshape(this, shape);
  }

  /** Swaps two dimensions. */
  transpose(d0: number, d1: number): Tensor {
    return ops.transpose(this, d0, d1);
  }

  /** Entry `index` of dimension `dim`, which is removed. */
  select(dim: number, index: number): Tensor {
    return ops.select(this, dim, index);
  }

  /** `length` entries of dimension `dim` from `start`. */
  narrow(dim: number, start: number, length: number): Tensor {
    return ops.narrow(this, dim, start, length);
  }

  /** @internal A tensor sharing these values in another shape, not recorded (reshape records it). */
  view(shape: readonly number[]): Tensor {
    const inferred = inferReshape(shape, this.size, this.shape);
    return new Tensor(this.values, inferred);
  }

  /** A deep copy (not recorded, like PyTorch's `clone().detach()`). */
  clone(): Tensor {
    return new Tensor(this.dataSync(), this.shape);
  }

  /** Releases the values; using the tensor afterwards throws. Idempotent. */
  dispose(): void {
    this.#data = null;
  }

  /** True once `dispose()` has been called. */
  get isDisposed(): boolean {
    return this.#data === null;
  }

  /** A short description without the values: `Tensor(shape=[2,3], dtype=float32)`. */
  toString(): string {
    return `Tensor(shape=${formatShape(this.shape)}, dtype=${this.dtype}${this.#requiresGrad ? ', requiresGrad=true' : ''})`;
  }
}

function inferReshape(shape: readonly number[], size: number, from: readonly number[]): number[] {
  const out = [...shape];
  const free = out.indexOf(-1);
  if (free !== -1) {
    const known = out.reduce((p, d, i) => (i === free ? p : p * d), 1);
    if (known <= 0 || size % known !== 0) {
      throw new ShapeError(`reshape: cannot reshape ${formatShape(from)} to ${formatShape(shape)}`);
    }
    out[free] = size / known;
  }
  const newSize = checkShape(out, 'reshape');
  if (newSize !== size) {
    throw new ShapeError(
      `reshape: cannot reshape ${formatShape(from)} (${size} values) to ${formatShape(shape)} (${newSize} values)`,
    );
  }
  return out;
}

/**
 * Validates a shape and returns its element count. Every dimension must be a non-negative safe
 * integer (also when another one is 0 and the tensor is empty), else a `ShapeError`; the count must
 * fit `MAX_ELEMENTS`, else a `RangeArgumentError` naming `where` and the bytes the shape would need.
 */
export function checkShape(shape: readonly number[], where: string): number {
  if (!Array.isArray(shape)) {
    throw new ShapeError(`${where}: expected a shape as an array of integers, got ${describe(shape)}`);
  }
  let size = 1;
  let empty = false;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      const inexact = typeof d === 'number' && Number.isInteger(d) && d > 0 ? ', past 2^53 - 1 where integers are not exact' : '';
      throw new ShapeError(
        `${where}: expected a shape of non-negative integers, got ${formatShape(shape)} (bad dimension ${String(d)}${inexact})`,
      );
    }
    if (d === 0) empty = true;
    size *= d;
  }
  // A product past 2^1024 is Infinity, and Infinity * 0 is NaN: an empty shape counts 0 whatever else it holds.
  return empty ? 0 : checkElements(where, `shape ${formatShape(shape)}`, size);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name} of length ${(value as Float32Array).length}`;
  if (typeof value === 'object') return `an object (${(value as object).constructor?.name ?? 'Object'})`;
  return `${typeof value} ${String(value)}`;
}

type FlatData = Float32Array | Float64Array | Int32Array | Uint8Array | readonly number[];

/**
 * Creates a tensor from nested arrays (shape inferred) or from flat data and a shape.
 * Throws `ShapeError` for ragged nesting, non-numeric values or a size mismatch.
 * @example
 * tensor([[1, 2], [3, 4]]);                 // shape [2, 2]
 * tensor(new Float32Array(30), [6, 5]);     // flat data + shape
 * tensor(3);                                // a scalar, shape []
 */
export function tensor(data: NestedArray | FlatData, shape?: readonly number[] | null, options?: TensorOptions): Tensor {
  const t = build(data, shape ?? undefined);
  if (options?.requiresGrad) t.requiresGrad = true;
  return t;
}

function build(data: NestedArray | FlatData, shape?: readonly number[]): Tensor {
  if (shape !== undefined) {
    const size = checkShape(shape, 'tensor');
    const flat = toFlat(data);
    if (flat.length !== size) {
      throw new ShapeError(
        `tensor: data has ${flat.length} values, expected ${size} for shape ${formatShape(shape)}`,
      );
    }
    return new Tensor(flat, shape);
  }
  if (ArrayBuffer.isView(data)) {
    const flat = toFlat(data);
    return new Tensor(flat, [flat.length]);
  }
  const inferred = inferShape(data as NestedArray);
  // Nested arrays can share one row many times over: count before allocating.
  const out = new Float32Array(checkShape(inferred, 'tensor'));
  let k = 0;
  const fill = (v: NestedArray, dim: number, path: string): void => {
    if (dim === inferred.length) {
      out[k++] = checkNumber(v, path);
      return;
    }
    if (!Array.isArray(v) || v.length !== inferred[dim]) {
      throw new ShapeError(
        `tensor: ragged nested array at ${path || 'top level'}: expected length ${inferred[dim]}, got ${
          Array.isArray(v) ? `length ${v.length}` : describe(v)
        }`,
      );
    }
    for (let i = 0; i < v.length; i++) fill(v[i]!, dim + 1, `${path}[${i}]`);
  };
  fill(data as NestedArray, 0, '');
  return new Tensor(out, inferred);
}

function inferShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let v: NestedArray = data;
  while (Array.isArray(v)) {
    shape.push(v.length);
    if (v.length === 0) break;
    v = v[0]!;
  }
  return shape;
}

function checkNumber(v: unknown, path: string): number {
  if (typeof v !== 'number') {
    throw new ShapeError(`tensor: expected a number at ${path || 'top level'}, got ${describe(v)}`);
  }
  return v;
}

function toFlat(data: NestedArray | FlatData): Float32Array {
  if (data instanceof Float32Array) return data;
  if (ArrayBuffer.isView(data)) return Float32Array.from(data as Float64Array);
  if (typeof data === 'number') return Float32Array.of(data);
  if (!Array.isArray(data)) throw new ShapeError(`tensor: expected numbers, got ${describe(data)}`);
  const flat: number[] = [];
  const walk = (v: NestedArray, path: string): void => {
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) walk(v[i]!, `${path}[${i}]`);
    } else flat.push(checkNumber(v, path));
  };
  walk(data as NestedArray, '');
  return Float32Array.from(flat);
}

/** A tensor of zeros. @example zeros([2, 3]) */
export function zeros(shape: readonly number[]): Tensor {
  return new Tensor(new Float32Array(checkShape(shape, 'zeros')), shape);
}

/** A tensor of ones. @example ones([2, 3]) */
export function ones(shape: readonly number[]): Tensor {
  return filled(shape, 1, 'ones');
}

/** A tensor filled with `value`. @example full([2], 0.5) */
export function full(shape: readonly number[], value: number): Tensor {
  return filled(shape, value, 'full');
}

function filled(shape: readonly number[], value: number, where: string): Tensor {
  return new Tensor(new Float32Array(checkShape(shape, where)).fill(value), shape);
}

/**
 * Options of `randn` and `rand`: a seed, or a generator to draw from.
 * @example
 * randn([2, 3], { seed: 0 });               // the same values everywhere
 * const g = new Generator(7);
 * rand([4], { generator: g });              // advances g
 */
export interface RandomOptions {
  /** Makes the values deterministic: the same seed gives the same values everywhere. */
  seed?: number;
  /** Draw from this generator instead (advances it). */
  generator?: Generator;
}

function pickGenerator(opts: RandomOptions | undefined): Generator {
  if (opts?.generator) return opts.generator;
  if (opts?.seed !== undefined) return new Generator(opts.seed);
  return globalGenerator();
}

/**
 * Standard normal samples, optionally scaled: `mean + std * N(0, 1)`.
 * @example
 * randn([6, 3, 5], { seed: 0 }); // identical on every backend and platform
 */
export function randn(shape: readonly number[], opts?: RandomOptions & { mean?: number; std?: number }): Tensor {
  const g = pickGenerator(opts);
  const out = new Float32Array(checkShape(shape, 'randn'));
  const mean = opts?.mean ?? 0;
  const std = opts?.std ?? 1;
  for (let i = 0; i < out.length; i++) out[i] = mean + std * g.normal();
  return new Tensor(out, shape);
}

/**
 * Uniform samples in [low, high), default [0, 1).
 * @example
 * rand([4], { seed: 1, low: -1, high: 1 });
 */
export function rand(shape: readonly number[], opts?: RandomOptions & { low?: number; high?: number }): Tensor {
  const g = pickGenerator(opts);
  const out = new Float32Array(checkShape(shape, 'rand'));
  const low = opts?.low ?? 0;
  const high = opts?.high ?? 1;
  for (let i = 0; i < out.length; i++) out[i] = low + (high - low) * g.uniform();
  return new Tensor(out, shape);
}
