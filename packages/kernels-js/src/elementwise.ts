// Elementwise primitives and axis permutation on contiguous Float32Arrays.

import { type BinaryOp, ShapeError, type UnaryOp, checkBroadcast, outArray, planPermutation } from '@recur/core-tensor';
import { relu, sigmoid } from './activations.js';

const UNARY: Record<UnaryOp, (x: number) => number> = {
  sigmoid,
  tanh: Math.tanh,
  relu,
  neg: (x) => -x,
  exp: Math.exp,
};

export function unary(op: UnaryOp, x: Float32Array, out?: Float32Array): Float32Array {
  const f = UNARY[op];
  if (!f) throw new ShapeError(`unary: unknown op '${String(op)}', expected one of ${Object.keys(UNARY).join(', ')}`);
  const y = outArray('unary', out, x.length);
  for (let i = 0; i < x.length; i++) y[i] = f(x[i]!);
  return y;
}

export function binary(op: BinaryOp, a: Float32Array, b: Float32Array, out?: Float32Array): Float32Array {
  checkBroadcast(op, a, b);
  const n = a.length;
  const m = b.length;
  const y = outArray(`binary(${op})`, out, n);
  switch (op) {
    case 'add':
      for (let i = 0; i < n; i++) y[i] = a[i]! + b[i % m]!;
      break;
    case 'sub':
      for (let i = 0; i < n; i++) y[i] = a[i]! - b[i % m]!;
      break;
    case 'mul':
      for (let i = 0; i < n; i++) y[i] = a[i]! * b[i % m]!;
      break;
    case 'div':
      for (let i = 0; i < n; i++) y[i] = a[i]! / b[i % m]!;
      break;
    default:
      throw new ShapeError(`binary: unknown op '${String(op)}', expected add, sub, mul or div`);
  }
  return y;
}

export function transpose(
  x: Float32Array,
  shape: readonly number[],
  perm: readonly number[],
  out?: Float32Array,
): Float32Array {
  const { size, outShape, inStrides } = planPermutation(x, shape, perm);
  const rank = shape.length;
  const y = outArray('transpose', out, size);
  const idx = new Array<number>(rank).fill(0);
  let src = 0;
  for (let i = 0; i < size; i++) {
    y[i] = x[src]!;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      src += inStrides[d]!;
      if (idx[d]! < outShape[d]!) break;
      src -= inStrides[d]! * outShape[d]!;
      idx[d] = 0;
    }
  }
  return y;
}
