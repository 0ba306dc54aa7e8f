// Input and state checks of the recurrent modules, with PyTorch's rules and messages that name the
// module, the argument, what was expected and what was given; and the time-major batch the kernels run on.

import { ArgumentError, ShapeError, Tensor, describeValue, formatShape } from '@recur/core-tensor';
import type { PackedSequence } from './packed.js';

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

/** Validates that `value` is a tensor; returns it. */
export function expectTensor(kind: string, name: string, value: unknown): Tensor {
  if (value instanceof Tensor) return value;
  throw new ArgumentError(`${kind}: expected ${name} as a Tensor, got ${describeValue(value)}`);
}

/** `[d0, d1, F]` to `[d1, d0, F]`: between batch-first and time-major. */
export function swapLeadingAxes(data: Float32Array, d0: number, d1: number, F: number): Float32Array {
  if (d0 === 1 || d1 === 1) return data;
  const out = new Float32Array(data.length);
  for (let i = 0; i < d0; i++) {
    for (let j = 0; j < d1; j++) out.set(data.subarray((i * d1 + j) * F, (i * d1 + j + 1) * F), (j * d0 + i) * F);
  }
  return out;
}

/**
 * Checks a padded input tensor (`[T, B, I]`, `[B, T, I]` with batchFirst, or unbatched `[T, I]`) and
 * returns it time-major, plus whether it was batched.
 */
export function sequenceInput(
  kind: string,
  x: unknown,
  inputSize: number,
  batchFirst: boolean,
): { seq: SequenceBatch; batched: boolean } {
  const input = expectTensor(kind, 'input', x);
  const rank = input.shape.length;
  if (rank !== 2 && rank !== 3) {
    throw new ShapeError(`${kind}: expected input of rank 2 or 3, got rank ${rank} with shape ${formatShape(input.shape)}`);
  }
  const features = input.shape[rank - 1]!;
  if (features !== inputSize) {
    throw new ShapeError(
      `${kind}: input.size(-1) must be equal to inputSize; expected ${inputSize}, got ${features} (input shape ${formatShape(input.shape)})`,
    );
  }
  if (rank === 2) {
    const T = input.shape[0]!;
    checkSeqLen(kind, T, input.shape);
    return { seq: { data: input.values, seqLen: T, batch: 1, rows: T, batchSizes: null }, batched: false };
  }
  const [d0, d1] = input.shape as [number, number, number];
  const T = batchFirst ? d1 : d0;
  const B = batchFirst ? d0 : d1;
  checkSeqLen(kind, T, input.shape);
  const data = batchFirst ? swapLeadingAxes(input.values, B, T, features) : input.values;
  return { seq: { data, seqLen: T, batch: B, rows: T * B, batchSizes: null }, batched: true };
}

/** Checks a PackedSequence's data (`[rows, inputSize]`) and returns it as the layers' input. */
export function packedInput(kind: string, p: PackedSequence, inputSize: number): SequenceBatch {
  const data = p.data;
  if (data.shape.length !== 2 || data.shape[1] !== inputSize) {
    throw new ShapeError(`${kind}: expected PackedSequence data of shape [rows, ${inputSize}], got ${formatShape(data.shape)}`);
  }
  return { data: data.values, seqLen: p.batchSizes.length, batch: p.batch, rows: data.shape[0]!, batchSizes: p.batchSizes };
}

function checkSeqLen(kind: string, T: number, shape: readonly number[]): void {
  if (T === 0) throw new ShapeError(`${kind}: expected a sequence length greater than 0, got input shape ${formatShape(shape)}`);
}

/**
 * Checks an initial state against PyTorch's expected shape `[LD, B, size]` (`[LD, size]` unbatched).
 * Returns its values, or null when not given.
 */
export function initialState(
  kind: string,
  name: string,
  value: unknown,
  LD: number,
  batch: number,
  size: number,
  batched: boolean,
): Float32Array | null {
  if (value === undefined || value === null) return null;
  const t = expectTensor(kind, name, value);
  if (t.shape.length !== (batched ? 3 : 2)) {
    throw new ShapeError(
      batched
        ? `${kind}: for batched 3-D input, ${name} should also be 3-D but got ${t.shape.length}-D tensor with shape ${formatShape(t.shape)}`
        : `${kind}: for unbatched 2-D input, ${name} should also be 2-D but got ${t.shape.length}-D tensor with shape ${formatShape(t.shape)}`,
    );
  }
  const expected = batched ? [LD, batch, size] : [LD, size];
  if (t.shape.some((d, i) => d !== expected[i])) {
    throw new ShapeError(`${kind}: expected ${name} of shape ${formatShape(expected)}, got ${formatShape(t.shape)}`);
  }
  return t.values;
}
