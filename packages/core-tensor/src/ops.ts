// The tensor operations that record gradients, each beside its gradient rule: elementwise math with
// PyTorch's broadcasting, matmul, reductions, softmax, and the shape operations (reshape, transpose,
// select, narrow, cat, stack). Kept small: they exist for the heads and losses of recurrent models.

import { type BackwardFn, recordOp } from './autograd.js';
import { ArgumentError, RangeArgumentError, ShapeError, describeValue, formatShape } from './errors.js';
import { MAX_ELEMENTS, checkElements } from './limits.js';
import { Tensor } from './tensor.js';

type Operand = Tensor | number;

/** Records a one-output operation (when needed) and returns its output. */
function recorded(name: string, inputs: readonly Tensor[], output: Tensor, backward: BackwardFn): Tensor {
  recordOp(name, inputs, [output], backward);
  return output;
}

const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function asTensor(op: string, v: Operand): Tensor {
  if (v instanceof Tensor) return v;
  if (typeof v === 'number') return new Tensor(Float32Array.of(v), []);
  throw new ArgumentError(`${op}: expected a Tensor or a number, got ${describeValue(v)}`);
}

/** A dimension index in [-rank, rank) as a non-negative one. */
function normDim(op: string, dim: unknown, rank: number): number {
  if (typeof dim !== 'number' || !Number.isInteger(dim) || dim < -rank || dim >= Math.max(rank, 1)) {
    throw new RangeArgumentError(`${op}: dim must be an integer in [${-rank}, ${Math.max(rank, 1) - 1}], got ${describeValue(dim)}`);
  }
  return dim < 0 ? dim + rank : dim;
}

/** `[outer, n, inner]` around dimension `d` of `shape`. */
function around(shape: readonly number[], d: number): [number, number, number] {
  return [sizeOf(shape.slice(0, d)), shape[d] ?? 1, sizeOf(shape.slice(d + 1))];
}

// ---- broadcasting ----

function broadcastShape(op: string, a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(`${op}: shapes ${formatShape(a)} and ${formatShape(b)} cannot be broadcast together`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides of `shape` read as `outShape` (0 along broadcast dimensions). */
function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const strides = new Array<number>(outShape.length).fill(0);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const o = outShape.length - shape.length + i;
    strides[o] = shape[i] === 1 ? 0 : s;
    s *= shape[i]!;
  }
  return strides;
}

/** Calls `f(outIndex, aIndex, bIndex)` for every element of the broadcast output. */
function forEachBroadcast(
  outShape: readonly number[],
  aStrides: readonly number[],
  bStrides: readonly number[],
  f: (o: number, ia: number, ib: number) => void,
): void {
  const rank = outShape.length;
  const size = sizeOf(outShape);
  const idx = new Array<number>(rank).fill(0);
  let ia = 0;
  let ib = 0;
  for (let o = 0; o < size; o++) {
    f(o, ia, ib);
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      ia += aStrides[d]!;
      ib += bStrides[d]!;
      if (idx[d]! < outShape[d]!) break;
      ia -= aStrides[d]! * outShape[d]!;
      ib -= bStrides[d]! * outShape[d]!;
      idx[d] = 0;
    }
  }
}

/** Sums a gradient of `outShape` down to `shape` (over the dimensions broadcasting expanded). */
function sumToShape(g: Float32Array, outShape: readonly number[], shape: readonly number[]): Float32Array {
  if (g.length === sizeOf(shape) && outShape.length === shape.length) return g;
  const acc = new Float64Array(sizeOf(shape));
  const strides = broadcastStrides(shape, outShape);
  forEachBroadcast(outShape, strides, strides, (o, i) => {
    acc[i]! += g[o]!;
  });
  return Float32Array.from(acc);
}

function binary(
  op: string,
  a: Operand,
  b: Operand,
  f: (x: number, y: number) => number,
  grad: (g: number, x: number, y: number, out: number) => [number, number],
): Tensor {
  const ta = asTensor(op, a);
  const tb = asTensor(op, b);
  const shape = broadcastShape(op, ta.shape, tb.shape);
  const size = sizeOf(shape);
  if (size > MAX_ELEMENTS) checkElements(op, `a result of shape ${formatShape(shape)}`, size);
  const out = new Float32Array(size);
  const sa = broadcastStrides(ta.shape, shape);
  const sb = broadcastStrides(tb.shape, shape);
  const av = ta.values;
  const bv = tb.values;
  forEachBroadcast(shape, sa, sb, (o, ia, ib) => {
    out[o] = f(av[ia]!, bv[ib]!);
  });
  const result = new Tensor(out, shape);
  return recorded(op, [ta, tb], result, ([g]) => {
    const ga = new Float32Array(out.length);
    const gb = new Float32Array(out.length);
    forEachBroadcast(shape, sa, sb, (o, ia, ib) => {
      const [x, y] = grad(g![o]!, av[ia]!, bv[ib]!, out[o]!);
      ga[o] = x;
      gb[o] = y;
    });
    return [ta.requiresGrad ? sumToShape(ga, shape, ta.shape) : null, tb.requiresGrad ? sumToShape(gb, shape, tb.shape) : null];
  });
}

export const add = (a: Operand, b: Operand) => binary('add', a, b, (x, y) => x + y, (g) => [g, g]);
export const sub = (a: Operand, b: Operand) => binary('sub', a, b, (x, y) => x - y, (g) => [g, -g]);
export const mul = (a: Operand, b: Operand) => binary('mul', a, b, (x, y) => x * y, (g, x, y) => [g * y, g * x]);
export const div = (a: Operand, b: Operand) =>
  binary('div', a, b, (x, y) => x / y, (g, x, y) => [g / y, (-g * x) / (y * y)]);

// ---- elementwise functions ----

function unary(op: string, x: Tensor, f: (v: number) => number, grad: (g: number, v: number, y: number) => number): Tensor {
  const xv = x.values;
  const out = new Float32Array(xv.length);
  for (let i = 0; i < out.length; i++) out[i] = f(xv[i]!);
  const result = new Tensor(out, x.shape);
  return recorded(op, [x], result, ([g]) => {
    const gx = new Float32Array(out.length);
    for (let i = 0; i < gx.length; i++) gx[i] = grad(g![i]!, xv[i]!, out[i]!);
    return [gx];
  });
}

const sigmoidOf = (v: number) => (v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v)));

export const neg = (x: Tensor) => unary('neg', x, (v) => -v, (g) => -g);
export const exp = (x: Tensor) => unary('exp', x, Math.exp, (g, _v, y) => g * y);
export const log = (x: Tensor) => unary('log', x, Math.log, (g, v) => g / v);
export const tanh = (x: Tensor) => unary('tanh', x, Math.tanh, (g, _v, y) => g * (1 - y * y));
export const sigmoid = (x: Tensor) => unary('sigmoid', x, sigmoidOf, (g, _v, y) => g * y * (1 - y));
export const relu = (x: Tensor) =>
  unary('relu', x, (v) => (v > 0 || Number.isNaN(v) ? v : 0), (g, v) => (v > 0 ? g : Number.isNaN(v) ? Number.NaN : 0));

// ---- matmul ----

/** `a @ b` for `a` of any rank >= 1 and `b` of rank 1 or 2 (PyTorch's rules for those ranks). */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (!(b instanceof Tensor)) throw new ArgumentError(`matmul: expected a Tensor, got ${describeValue(b)}`);
  if (a.rank < 1 || b.rank < 1 || b.rank > 2) {
    throw new ShapeError(`matmul: expected a of rank >= 1 and b of rank 1 or 2, got ${formatShape(a.shape)} and ${formatShape(b.shape)}`);
  }
  const k = a.shape[a.rank - 1]!;
  const [kb, n] = b.rank === 2 ? (b.shape as [number, number]) : [b.shape[0]!, 1];
  if (k !== kb) {
    throw new ShapeError(`matmul: ${formatShape(a.shape)} and ${formatShape(b.shape)} cannot be multiplied (${k} != ${kb})`);
  }
  const m = a.size / Math.max(k, 1);
  const av = a.values;
  const bv = b.values;
  if (m * n > MAX_ELEMENTS) checkElements('matmul', `a result of ${m} x ${n}`, m * n);
  const out = gemm(av, bv, m, k, n);
  const shape = [...a.shape.slice(0, -1), ...(b.rank === 2 ? [n] : [])];
  const result = new Tensor(out, shape);
  return recorded('matmul', [a, b], result, ([g]) => [
    a.requiresGrad ? gemmNT(g!, bv, m, n, k) : null, // g [m,n] @ b^T [n,k]
    b.requiresGrad ? gemmTN(av, g!, m, k, n) : null, // a^T [k,m] @ g [m,n]
  ]);
}

/** `[m,k] @ [k,n]`, accumulated in float64. */
function gemm(a: Float32Array, b: Float32Array, m: number, k: number, n: number): Float32Array {
  const out = new Float32Array(m * n);
  const row = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    row.fill(0);
    for (let p = 0; p < k; p++) {
      const v = a[i * k + p]!;
      if (v === 0) continue;
      for (let j = 0; j < n; j++) row[j]! += v * b[p * n + j]!;
    }
    for (let j = 0; j < n; j++) out[i * n + j] = row[j]!;
  }
  return out;
}

/** `[m,n] @ ([k,n])^T`. */
function gemmNT(g: Float32Array, b: Float32Array, m: number, n: number, k: number): Float32Array {
  const out = new Float32Array(m * k);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += g[i * n + j]! * b[p * n + j]!;
      out[i * k + p] = s;
    }
  }
  return out;
}

/** `([m,k])^T @ [m,n]`. */
function gemmTN(a: Float32Array, g: Float32Array, m: number, k: number, n: number): Float32Array {
  const acc = new Float64Array(k * n);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const v = a[i * k + p]!;
      if (v === 0) continue;
      for (let j = 0; j < n; j++) acc[p * n + j]! += v * g[i * n + j]!;
    }
  }
  return Float32Array.from(acc);
}

// ---- reductions and softmax ----

/** Sum over `dim` (all elements when omitted), keeping it as size 1 with `keepDim`. */
export function sum(x: Tensor, dim?: number, keepDim = false): Tensor {
  return reduce('sum', x, dim, keepDim, 1);
}

/** Mean over `dim` (all elements when omitted). */
export function mean(x: Tensor, dim?: number, keepDim = false): Tensor {
  const n = dim === undefined ? x.size : x.shape[normDim('mean', dim, x.rank)] ?? 1;
  return reduce('mean', x, dim, keepDim, 1 / n);
}

function reduce(op: string, x: Tensor, dim: number | undefined, keepDim: boolean, scale: number): Tensor {
  const all = dim === undefined;
  const d = all ? 0 : normDim(op, dim, x.rank);
  const [outer, n, inner] = all ? [1, x.size, 1] : around(x.shape, d);
  const xv = x.values;
  const out = new Float32Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += xv[(o * n + j) * inner + i]!;
      out[o * inner + i] = s * scale;
    }
  }
  const shape = all ? (keepDim ? x.shape.map(() => 1) : []) : keepDim ? x.shape.map((v, i) => (i === d ? 1 : v)) : x.shape.filter((_, i) => i !== d);
  return recorded(op, [x], new Tensor(out, shape), ([g]) => {
    const gx = new Float32Array(x.size);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const v = g![o * inner + i]! * scale;
        for (let j = 0; j < n; j++) gx[(o * n + j) * inner + i] = v;
      }
    }
    return [gx];
  });
}

/** Softmax along `dim`, computed stably (max subtracted). */
export function softmax(x: Tensor, dim: number): Tensor {
  return softmaxLike('softmax', x, dim, false);
}

/** Log-softmax along `dim`, computed stably. */
export function logSoftmax(x: Tensor, dim: number): Tensor {
  return softmaxLike('logSoftmax', x, dim, true);
}

function softmaxLike(op: string, x: Tensor, dim: number, logarithm: boolean): Tensor {
  const d = normDim(op, dim, x.rank);
  const [outer, n, inner] = around(x.shape, d);
  const xv = x.values;
  const out = new Float32Array(x.size);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const at = (j: number) => (o * n + j) * inner + i;
      let max = Number.NEGATIVE_INFINITY;
      for (let j = 0; j < n; j++) max = Math.max(max, xv[at(j)]!);
      if (!Number.isFinite(max)) max = 0;
      let s = 0;
      for (let j = 0; j < n; j++) s += Math.exp(xv[at(j)]! - max);
      const logS = Math.log(s);
      for (let j = 0; j < n; j++) out[at(j)] = logarithm ? xv[at(j)]! - max - logS : Math.exp(xv[at(j)]! - max) / s;
    }
  }
  return recorded(op, [x], new Tensor(out, x.shape), ([g]) => {
    const gx = new Float32Array(x.size);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const at = (j: number) => (o * n + j) * inner + i;
        let s = 0;
        for (let j = 0; j < n; j++) s += logarithm ? g![at(j)]! : g![at(j)]! * out[at(j)]!;
        for (let j = 0; j < n; j++) {
          gx[at(j)] = logarithm ? g![at(j)]! - Math.exp(out[at(j)]!) * s : out[at(j)]! * (g![at(j)]! - s);
        }
      }
    }
    return [gx];
  });
}

// ---- shape operations ----

/** The same values in another shape (`-1` infers one dimension). */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const result = x.view(shape);
  return recorded('reshape', [x], result, ([g]) => [g!]);
}

/** Swaps dimensions `d0` and `d1` (a copy, row-major). */
export function transpose(x: Tensor, d0: number, d1: number): Tensor {
  const a = normDim('transpose', d0, x.rank);
  const b = normDim('transpose', d1, x.rank);
  const perm = x.shape.map((_, i) => (i === a ? b : i === b ? a : i));
  const result = new Tensor(permute(x.values, x.shape, perm), perm.map((p) => x.shape[p]!));
  return recorded('transpose', [x], result, ([g]) => [permute(g!, result.shape, perm)]);
}

/** `y[outIdx] = x[inIdx]` with `outShape[i] = shape[perm[i]]`. Self-inverse for a swap. */
function permute(data: Float32Array, shape: readonly number[], perm: readonly number[]): Float32Array {
  const rank = shape.length;
  const strides = new Array<number>(rank);
  for (let d = rank - 1, s = 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d]!;
  }
  const outShape = perm.map((p) => shape[p]!);
  const inStrides = perm.map((p) => strides[p]!);
  const out = new Float32Array(data.length);
  forEachBroadcast(outShape, inStrides, inStrides, (o, i) => {
    out[o] = data[i]!;
  });
  return out;
}

/** Index `i` of dimension `dim`, which is removed. */
export function select(x: Tensor, dim: number, index: number): Tensor {
  const d = normDim('select', dim, x.rank);
  const n = x.shape[d]!;
  if (!Number.isInteger(index) || index < -n || index >= n) {
    throw new RangeArgumentError(`select: index must be an integer in [${-n}, ${n - 1}] for dimension ${d} of size ${n}, got ${describeValue(index)}`);
  }
  const i = index < 0 ? index + n : index;
  const r = narrow(x, d, i, 1);
  return reshape(r, x.shape.filter((_, k) => k !== d));
}

/** `length` entries of dimension `dim` from `start`. */
export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  const d = normDim('narrow', dim, x.rank);
  const n = x.shape[d]!;
  if (!Number.isInteger(start) || !Number.isInteger(length) || start < 0 || length < 0 || start + length > n) {
    throw new RangeArgumentError(
      `narrow: expected 0 <= start and start + length <= ${n} for dimension ${d}, got start ${describeValue(start)} and length ${describeValue(length)}`,
    );
  }
  const [outer, , inner] = around(x.shape, d);
  const xv = x.values;
  const out = new Float32Array(outer * length * inner);
  for (let o = 0; o < outer; o++) out.set(xv.subarray((o * n + start) * inner, (o * n + start + length) * inner), o * length * inner);
  const shape = x.shape.map((v, k) => (k === d ? length : v));
  return recorded('narrow', [x], new Tensor(out, shape), ([g]) => {
    const gx = new Float32Array(x.size);
    for (let o = 0; o < outer; o++) gx.set(g!.subarray(o * length * inner, (o + 1) * length * inner), (o * n + start) * inner);
    return [gx];
  });
}

/**
 * Concatenates tensors along `dim` (their other dimensions must agree).
 * @example
 * cat([zeros([2, 3]), ones([1, 3])], 0).shape; // [3, 3]
 */
export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  if (!Array.isArray(tensors) || tensors.length === 0 || !tensors.every((t) => t instanceof Tensor)) {
    throw new ArgumentError(`cat: expected a non-empty array of Tensors, got ${describeValue(tensors)}`);
  }
  const first = tensors[0]!;
  const d = normDim('cat', dim, first.rank);
  for (const t of tensors) {
    if (t.rank !== first.rank || t.shape.some((v, k) => k !== d && v !== first.shape[k])) {
      throw new ShapeError(`cat: expected tensors matching ${formatShape(first.shape)} except in dimension ${d}, got ${formatShape(t.shape)}`);
    }
  }
  const [outer, , inner] = around(first.shape, d);
  const total = tensors.reduce((s, t) => s + t.shape[d]!, 0);
  const out = new Float32Array(outer * total * inner);
  let offset = 0;
  const offsets = tensors.map((t) => {
    const n = t.shape[d]!;
    const v = t.values;
    for (let o = 0; o < outer; o++) out.set(v.subarray(o * n * inner, (o + 1) * n * inner), (o * total + offset) * inner);
    offset += n;
    return offset - n;
  });
  const shape = first.shape.map((v, k) => (k === d ? total : v));
  return recorded('cat', tensors, new Tensor(out, shape), ([g]) =>
    tensors.map((t, i) => {
      if (!t.requiresGrad) return null;
      const n = t.shape[d]!;
      const gt = new Float32Array(t.size);
      for (let o = 0; o < outer; o++) gt.set(g!.subarray((o * total + offsets[i]!) * inner, (o * total + offsets[i]! + n) * inner), o * n * inner);
      return gt;
    }),
  );
}

/**
 * Stacks tensors of one shape along a new dimension `dim`.
 * @example
 * stack([zeros([3]), ones([3])], 0).shape; // [2, 3]
 */
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  if (!Array.isArray(tensors) || tensors.length === 0 || !tensors.every((t) => t instanceof Tensor)) {
    throw new ArgumentError(`stack: expected a non-empty array of Tensors, got ${describeValue(tensors)}`);
  }
  const shape = tensors[0]!.shape;
  const d = normDim('stack', dim, shape.length + 1);
  for (const t of tensors) {
    if (t.rank !== shape.length || t.shape.some((v, k) => v !== shape[k])) {
      throw new ShapeError(`stack: expected every tensor of shape ${formatShape(shape)}, got ${formatShape(t.shape)}`);
    }
  }
  const expanded = [...shape.slice(0, d), 1, ...shape.slice(d)];
  return cat(
    tensors.map((t) => reshape(t, expanded)),
    d,
  );
}
