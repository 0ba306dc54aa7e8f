// Variable-length batches, as torch.nn.utils.rnn: a PackedSequence stores the steps of sequences
// sorted by decreasing length one step after another, so recurrent kernels run each step over the
// sequences still active and spend no work on padding.

import {
  ArgumentError,
  RangeArgumentError,
  ShapeError,
  Tensor,
  checkElements,
  describeValue,
  formatShape,
  recordOp,
} from '@recur/core-tensor';

/** Indices as the constructor accepts them: an Int32Array or an array of integers. */
type IndexArray = Int32Array | readonly number[];

/**
 * Sequences of different lengths packed time step by time step, as PyTorch's `PackedSequence`.
 * `data` is `[sum(batchSizes), *]`; `batchSizes[t]` is how many sequences are active at step t
 * (positive, never increasing); `sortedIndices[i]` is the original batch index of the i-th longest
 * sequence (null when the input was already sorted), and `unsortedIndices` its inverse. Every field
 * is checked on construction (the indices must be a permutation of the batch) and copied, so a
 * PackedSequence is consistent whatever it was built from.
 * @example
 * const packed = packPaddedSequence(x, [5, 3, 2]);
 * packed.batchSizes; // Int32Array [3, 3, 2, 1, 1]
 */
export class PackedSequence {
  readonly data: Tensor;
  readonly batchSizes: Int32Array;
  readonly sortedIndices: Int32Array | null;
  readonly unsortedIndices: Int32Array | null;

  constructor(
    data: Tensor,
    batchSizes: IndexArray,
    sortedIndices: IndexArray | null = null,
    unsortedIndices: IndexArray | null = null,
  ) {
    const where = 'PackedSequence';
    if (!(data instanceof Tensor)) throw new ArgumentError(`${where}: expected data as a Tensor, got ${describeValue(data)}`);
    this.batchSizes = checkBatchSizes(where, batchSizes);
    let total = 0;
    for (const b of this.batchSizes) total += b;
    if (data.shape.length < 1 || data.shape[0] !== total) {
      throw new ShapeError(
        `${where}: data must have sum(batchSizes) = ${total} rows, got shape ${formatShape(data.shape)}`,
      );
    }
    this.data = data;
    const B = this.batchSizes[0] ?? 0;
    this.sortedIndices = sortedIndices == null ? null : checkPermutation(where, 'sortedIndices', sortedIndices, B);
    if (unsortedIndices == null) {
      this.unsortedIndices = this.sortedIndices ? invertPermutation(this.sortedIndices) : null;
      return;
    }
    const unsorted = checkPermutation(where, 'unsortedIndices', unsortedIndices, B);
    if (!this.sortedIndices) {
      throw new ArgumentError(`${where}: expected unsortedIndices only with sortedIndices (as their inverse), got unsortedIndices alone`);
    }
    for (let i = 0; i < B; i++) {
      if (unsorted[this.sortedIndices[i]!] !== i) {
        throw new ArgumentError(
          `${where}: expected unsortedIndices to be the inverse of sortedIndices (unsortedIndices[sortedIndices[i]] = i), got unsortedIndices[${this.sortedIndices[i]}] = ${unsorted[this.sortedIndices[i]!]} for i = ${i}`,
        );
      }
    }
    this.unsortedIndices = unsorted;
  }

  /** Number of sequences. */
  get batch(): number {
    return this.batchSizes[0] ?? 0;
  }

  /** Each sequence's length, in the original batch order. */
  lengths(): number[] {
    const sorted = sortedLengths(this.batchSizes);
    const out = new Array<number>(sorted.length);
    for (let i = 0; i < sorted.length; i++) out[this.sortedIndices ? this.sortedIndices[i]! : i] = sorted[i]!;
    return out;
  }
}

/** The integers of an Int32Array or a plain array, copied; `what` names the argument in errors. */
function integers(where: string, what: string, values: unknown): Int32Array {
  if (!(values instanceof Int32Array) && !Array.isArray(values)) {
    throw new ArgumentError(`${where}: expected ${what} as an Int32Array or an array of integers, got ${describeValue(values)}`);
  }
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v: unknown = values[i];
    if (!Number.isInteger(v)) throw new ArgumentError(`${where}: expected ${what} of integers, got ${what}[${i}] = ${describeValue(v)}`);
    if ((v as number) < -(2 ** 31) || (v as number) >= 2 ** 31) {
      throw new RangeArgumentError(`${where}: expected ${what} of 32-bit integers, got ${what}[${i}] = ${describeValue(v)}`);
    }
    out[i] = v as number;
  }
  return out;
}

/** Batch sizes per step: positive and never increasing, as packing produces them. */
function checkBatchSizes(where: string, batchSizes: unknown): Int32Array {
  const sizes = integers(where, 'batchSizes', batchSizes);
  for (let t = 0; t < sizes.length; t++) {
    if (sizes[t]! < 1) {
      throw new RangeArgumentError(`${where}: expected batchSizes of at least 1 (sequences active at each step), got batchSizes[${t}] = ${sizes[t]}`);
    }
    if (t > 0 && sizes[t]! > sizes[t - 1]!) {
      throw new ShapeError(
        `${where}: expected batchSizes that never increase (sequences sorted by decreasing length), got batchSizes[${t - 1}] = ${sizes[t - 1]} then batchSizes[${t}] = ${sizes[t]}`,
      );
    }
  }
  return sizes;
}

/** A copy of `indices` after checking it is a permutation of `0..B-1`. */
function checkPermutation(where: string, what: string, indices: unknown, B: number): Int32Array {
  const p = integers(where, what, indices);
  if (p.length !== B) {
    throw new ShapeError(`${where}: expected ${what} to be a permutation of the batch of ${B} (batchSizes[0]), got ${p.length} indices`);
  }
  const seen = new Uint8Array(B);
  for (let i = 0; i < B; i++) {
    const b = p[i]!;
    if (b < 0 || b >= B) {
      throw new RangeArgumentError(`${where}: expected ${what} to be a permutation of 0..${B - 1}, got ${what}[${i}] = ${b}`);
    }
    if (seen[b]) {
      throw new ArgumentError(`${where}: expected ${what} to be a permutation of 0..${B - 1} (each index once), got ${b} twice, again at ${what}[${i}]`);
    }
    seen[b] = 1;
  }
  return p;
}

export function invertPermutation(p: Int32Array): Int32Array {
  const inv = new Int32Array(p.length);
  for (let i = 0; i < p.length; i++) inv[p[i]!] = i;
  return inv;
}

/** Lengths in sorted (decreasing) order from per-step batch sizes. */
export function sortedLengths(batchSizes: Int32Array): Int32Array {
  const B = batchSizes[0] ?? 0;
  const lengths = new Int32Array(B);
  for (let t = 0; t < batchSizes.length; t++) for (let b = 0; b < batchSizes[t]!; b++) lengths[b]!++;
  return lengths;
}

/**
 * Lengths as an array of integers, from an array, an integer typed array or a 1-D Tensor; anything
 * else (null, a string, a number) is an ArgumentError.
 */
function toLengths(where: string, lengths: unknown): number[] {
  let values: ArrayLike<unknown>;
  if (lengths instanceof Tensor) {
    if (lengths.shape.length !== 1) {
      throw new ShapeError(`${where}: expected lengths as a 1-D Tensor, got shape ${formatShape(lengths.shape)}`);
    }
    values = lengths.values;
  } else if (Array.isArray(lengths) || isNumberArray(lengths)) {
    values = lengths as ArrayLike<unknown>;
  } else {
    throw new ArgumentError(`${where}: expected lengths as an array, Int32Array or 1-D Tensor of integers, got ${describeValue(lengths)}`);
  }
  const out = new Array<number>(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isInteger(v)) throw new ArgumentError(`${where}: lengths must be integers, got lengths[${i}] = ${describeValue(v)}`);
    out[i] = v as number;
  }
  return out;
}

function isNumberArray(v: unknown): v is ArrayLike<number> {
  return ArrayBuffer.isView(v) && !(v instanceof DataView) && !(v instanceof BigInt64Array) && !(v instanceof BigUint64Array);
}

/** An options argument: undefined means defaults; anything but an object is an ArgumentError. */
function readOptions<T extends object>(where: string, options: unknown, names: readonly (keyof T & string)[]): Partial<T> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ArgumentError(`${where}: expected options as an object { ${names.join(', ')} }, got ${describeValue(options)}`);
  }
  return options as Partial<T>;
}

function readPaddingValue(where: string, value: unknown): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number') throw new ArgumentError(`${where}: expected paddingValue as a number, got ${describeValue(value)}`);
  return value;
}

function readBoolean(where: string, name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new ArgumentError(`${where}: expected ${name} as a boolean, got ${describeValue(value)}`);
  return value;
}

/**
 * Options of `packPaddedSequence` and `packSequence`.
 * @example
 * packPaddedSequence(randn([3, 5, 8]), [2, 5, 4], { batchFirst: true, enforceSorted: false });
 */
export interface PackOptions {
  /** Input is `[B, T, *]` instead of `[T, B, *]`. Default false. */
  batchFirst?: boolean;
  /** Require lengths sorted in decreasing order (default true); false sorts them for you. */
  enforceSorted?: boolean;
}

/**
 * Packs a padded batch `[T, B, *]` (`[B, T, *]` with batchFirst) of sequences with the given lengths.
 * Stricter than PyTorch: a length above T or a count of lengths other than B throws at once.
 * @example
 * const packed = packPaddedSequence(x, [5, 3, 2], { enforceSorted: true });
 * const [out, hN] = gru.forward(packed);
 */
export function packPaddedSequence(
  input: Tensor,
  lengths: readonly number[] | Int32Array | Tensor,
  options?: PackOptions,
): PackedSequence {
  const where = 'packPaddedSequence';
  if (!(input instanceof Tensor)) throw new ArgumentError(`${where}: expected input as a Tensor, got ${describeValue(input)}`);
  if (input.shape.length < 2) {
    throw new ShapeError(`${where}: expected input of rank >= 2 ([T, B, *]), got shape ${formatShape(input.shape)}`);
  }
  const opts = readOptions<PackOptions>(where, options, ['batchFirst', 'enforceSorted']);
  const batchFirst = readBoolean(where, 'batchFirst', opts.batchFirst, false);
  const enforceSorted = readBoolean(where, 'enforceSorted', opts.enforceSorted, true);
  const T = input.shape[batchFirst ? 1 : 0]!;
  const B = input.shape[batchFirst ? 0 : 1]!;
  const lens = toLengths(where, lengths);
  if (lens.length !== B) {
    throw new ShapeError(`${where}: expected ${B} lengths (one per sequence in the batch), got ${lens.length}`);
  }
  for (const len of lens) {
    if (len <= 0) {
      throw new ShapeError(
        `${where}: length of all samples has to be greater than 0, but found an element in lengths that is <= 0: [${lens.join(',')}]`,
      );
    }
    if (len > T) {
      throw new ShapeError(`${where}: a length of ${len} exceeds the sequence length ${T} of the input ${formatShape(input.shape)}`);
    }
  }
  let sortedIndices: Int32Array | null = null;
  if (enforceSorted) {
    for (let i = 1; i < B; i++) {
      if (lens[i]! > lens[i - 1]!) {
        throw new ShapeError(
          `${where}: lengths must be sorted in decreasing order when enforceSorted is true, got [${lens.join(',')}]; pass { enforceSorted: false } to have them sorted for you`,
        );
      }
    }
  } else {
    sortedIndices = Int32Array.from(lens.map((_, i) => i).sort((a, b) => lens[b]! - lens[a]! || a - b));
  }
  const order = sortedIndices ?? Int32Array.from(lens.map((_, i) => i));
  const maxLen = lens[order[0]!] ?? 0;
  const batchSizes = new Int32Array(maxLen);
  for (let t = 0; t < maxLen; t++) batchSizes[t] = lens.filter((len) => len > t).length;
  const F = input.size / (T * B || 1);
  const total = batchSizes.reduce((a, b) => a + b, 0);
  const data = new Float32Array(total * F);
  const src = input.values;
  const ats = new Float64Array(total);
  let r = 0;
  for (let t = 0; t < maxLen; t++) {
    for (let i = 0; i < batchSizes[t]!; i++, r++) {
      const b = order[i]!;
      const at = (batchFirst ? b * T + t : t * B + b) * F;
      ats[r] = at;
      data.set(src.subarray(at, at + F), r * F);
    }
  }
  const packed = new Tensor(data, [total, ...input.shape.slice(2)]);
  recordOp(where, [input], [packed], ([g]) => {
    const gx = new Float32Array(input.size);
    for (let k = 0; k < total; k++) gx.set(g!.subarray(k * F, (k + 1) * F), ats[k]!);
    return [gx];
  });
  return new PackedSequence(packed, batchSizes, sortedIndices);
}

/**
 * Options of `padPackedSequence` and `padSequence`.
 * @example
 * const [padded, lengths] = padPackedSequence(packed, { batchFirst: true, paddingValue: -1, totalLength: 10 });
 */
export interface PadOptions {
  /** Output `[B, T, *]` instead of `[T, B, *]`. Default false. */
  batchFirst?: boolean;
  /** Value of padded positions. Default 0. */
  paddingValue?: number;
  /** Pad to this many steps (at least the longest sequence). */
  totalLength?: number;
}

/**
 * Pads a PackedSequence back to `[T, B, *]` (`[B, T, *]` with batchFirst), in the original batch
 * order; returns `[padded, lengths]`.
 * @example
 * const [padded, lengths] = padPackedSequence(outPacked, { batchFirst: false, paddingValue: 0 });
 */
export function padPackedSequence(sequence: PackedSequence, options?: PadOptions): [Tensor, number[]] {
  const where = 'padPackedSequence';
  if (!(sequence instanceof PackedSequence)) throw new ArgumentError(`${where}: expected a PackedSequence, got ${describeValue(sequence)}`);
  const opts = readOptions<PadOptions>(where, options, ['batchFirst', 'paddingValue', 'totalLength']);
  const { batchSizes, data } = sequence;
  const maxLen = batchSizes.length;
  const T = opts.totalLength ?? maxLen;
  if (!Number.isInteger(T) || T < maxLen) {
    throw new ShapeError(
      `${where}: expected totalLength to be at least the length of the longest sequence (${maxLen}), but got totalLength=${typeof opts.totalLength === 'number' ? opts.totalLength : describeValue(opts.totalLength)}`,
    );
  }
  const B = sequence.batch;
  const F = data.size / (data.shape[0] || 1);
  const batchFirst = readBoolean(where, 'batchFirst', opts.batchFirst, false);
  const rest = data.shape.slice(1);
  const shape = batchFirst ? [B, T, ...rest] : [T, B, ...rest];
  checkElements(where, `totalLength ${T} (padded shape ${formatShape(shape)})`, T * B * F);
  const out = new Float32Array(T * B * F).fill(readPaddingValue(where, opts.paddingValue));
  const src = data.values;
  const sorted = sequence.sortedIndices;
  const rows = data.shape[0]!;
  const ats = new Float64Array(rows);
  let r = 0;
  for (let t = 0; t < maxLen; t++) {
    for (let i = 0; i < batchSizes[t]!; i++, r++) {
      const b = sorted ? sorted[i]! : i;
      const at = (batchFirst ? b * T + t : t * B + b) * F;
      ats[r] = at;
      out.set(src.subarray(r * F, (r + 1) * F), at);
    }
  }
  const padded = new Tensor(out, shape);
  recordOp(where, [data], [padded], ([g]) => {
    const gd = new Float32Array(data.size);
    for (let k = 0; k < rows; k++) gd.set(g!.subarray(ats[k]!, ats[k]! + F), k * F);
    return [gd];
  });
  return [padded, sequence.lengths()];
}

/**
 * Stacks tensors of shape `[L_i, *]` into one padded `[maxL, B, *]` (`[B, maxL, *]` with batchFirst).
 * @example
 * padSequence([tensor([[1], [2], [3]]), tensor([[4]])]).shape; // [3, 2, 1]
 */
export function padSequence(sequences: readonly Tensor[], options?: { batchFirst?: boolean; paddingValue?: number }): Tensor {
  const where = 'padSequence';
  if (!Array.isArray(sequences) || sequences.length === 0) {
    throw new ShapeError(`${where}: expected a non-empty array of tensors, got ${describeValue(sequences)}`);
  }
  const opts = readOptions<PadOptions>(where, options, ['batchFirst', 'paddingValue']);
  const trailing = checkTrailing(where, sequences);
  const F = trailing.reduce((a, b) => a * b, 1);
  const B = sequences.length;
  const T = sequences.reduce((m, s) => Math.max(m, s.shape[0]!), 0);
  const batchFirst = readBoolean(where, 'batchFirst', opts.batchFirst, false);
  const shape = batchFirst ? [B, T, ...trailing] : [T, B, ...trailing];
  checkElements(where, `${B} sequences padded to the longest, ${T} (shape ${formatShape(shape)})`, T * B * F);
  const out = new Float32Array(T * B * F).fill(readPaddingValue(where, opts.paddingValue));
  sequences.forEach((s, b) => {
    for (let t = 0; t < s.shape[0]!; t++) {
      out.set(s.values.subarray(t * F, (t + 1) * F), (batchFirst ? b * T + t : t * B + b) * F);
    }
  });
  return new Tensor(out, shape);
}

function checkTrailing(where: string, sequences: readonly Tensor[]): number[] {
  const first = sequences[0]!;
  sequences.forEach((s, i) => {
    if (!(s instanceof Tensor)) throw new ArgumentError(`${where}: expected sequence ${i} as a Tensor, got ${describeValue(s)}`);
    if (s.shape.length < 1) throw new ShapeError(`${where}: sequence ${i} must have rank >= 1, got a scalar`);
    const same = s.shape.length === first.shape.length && s.shape.every((d, k) => k === 0 || d === first.shape[k]);
    if (!same) {
      throw new ShapeError(
        `${where}: sequence ${i} has shape ${formatShape(s.shape)}, expected [*, ${first.shape.slice(1).join(',')}] like sequence 0`,
      );
    }
  });
  return first.shape.slice(1);
}

/**
 * Packs a list of tensors `[L_i, *]`; with `enforceSorted` (default true) they must be sorted by
 * decreasing length.
 * @example
 * const packed = packSequence([a, b, c], { enforceSorted: false });
 */
export function packSequence(sequences: readonly Tensor[], options?: { enforceSorted?: boolean }): PackedSequence {
  const opts = readOptions<PackOptions>('packSequence', options, ['enforceSorted']);
  const enforceSorted = readBoolean('packSequence', 'enforceSorted', opts.enforceSorted, true);
  const padded = padSequence(sequences);
  return packPaddedSequence(
    padded,
    sequences.map((s) => s.shape[0]!),
    { enforceSorted },
  );
}

/**
 * Splits a padded batch back into its sequences, each cut to its length.
 * @example
 * const [a, b] = unpadSequence(padded, [3, 1]);
 */
export function unpadSequence(padded: Tensor, lengths: readonly number[] | Int32Array | Tensor, options?: { batchFirst?: boolean }): Tensor[] {
  const where = 'unpadSequence';
  const opts = readOptions<PackOptions>(where, options, ['batchFirst']);
  const batchFirst = readBoolean(where, 'batchFirst', opts.batchFirst, false);
  if (!(padded instanceof Tensor)) throw new ArgumentError(`${where}: expected a padded Tensor, got ${describeValue(padded)}`);
  if (padded.shape.length < 2) {
    throw new ShapeError(`${where}: expected a padded Tensor of rank >= 2, got shape ${formatShape(padded.shape)}`);
  }
  const T = padded.shape[batchFirst ? 1 : 0]!;
  const B = padded.shape[batchFirst ? 0 : 1]!;
  const lens = toLengths(where, lengths);
  if (lens.length !== B) throw new ShapeError(`${where}: expected ${B} lengths, got ${lens.length}`);
  const rest = padded.shape.slice(2);
  const F = rest.reduce((a, b) => a * b, 1);
  return lens.map((len, b) => {
    if (len < 0 || len > T) throw new ShapeError(`${where}: length ${len} is outside [0, ${T}]`);
    const out = new Float32Array(len * F);
    for (let t = 0; t < len; t++) {
      const at = (batchFirst ? b * T + t : t * B + b) * F;
      out.set(padded.values.subarray(at, at + F), t * F);
    }
    return new Tensor(out, [len, ...rest]);
  });
}

/**
 * Splits a PackedSequence into its sequences `[L_i, *]`, in the original batch order.
 * @example
 * const sequences = unpackSequence(packSequence([a, b], { enforceSorted: false }));
 */
export function unpackSequence(sequence: PackedSequence): Tensor[] {
  const [padded, lengths] = padPackedSequence(sequence);
  return unpadSequence(padded, lengths);
}
