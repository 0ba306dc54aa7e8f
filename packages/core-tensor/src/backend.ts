// The contract between recur's modules and its kernels. Two levels: fused whole-layer recurrent
// kernels over prepared (resident, pre-transposed) weights, and primitives for everything else.
// Kernels take plain Float32Arrays and never keep references to them after returning.

/** Bumped on any breaking change to `Backend`; modules refuse a backend with another major version. */
export const BACKEND_INTERFACE_VERSION = 1;

/** The recurrence of one layer: PyTorch's `LSTM`, `GRU`, `RNN(nonlinearity='tanh'|'relu')`. */
export type RecurrentMode = 'lstm' | 'gru' | 'rnn_tanh' | 'rnn_relu';

/** Number of gate blocks stacked in `weightIh`/`weightHh` for a mode (LSTM i,f,g,o; GRU r,z,n). */
export function gateCount(mode: RecurrentMode): number {
  return mode === 'lstm' ? 4 : mode === 'gru' ? 3 : 1;
}

/**
 * One direction of one layer's weights in PyTorch's layout (row-major, gates stacked on rows).
 * `G = gateCount(mode)`, `H = hiddenSize`, `P = projSize || H` (the size of `h`).
 */
export interface RecurrentWeights {
  mode: RecurrentMode;
  inputSize: number;
  hiddenSize: number;
  /** LSTM projection size; 0 means none. */
  projSize: number;
  /** `[G*H, inputSize]` */
  weightIh: Float32Array;
  /** `[G*H, P]` */
  weightHh: Float32Array;
  /** `[G*H]`, or null without bias. */
  biasIh: Float32Array | null;
  /** `[G*H]`, or null without bias. */
  biasHh: Float32Array | null;
  /** `[P, H]` when `projSize > 0`, else null. */
  weightHr: Float32Array | null;
}

/**
 * Weights converted once into the layout a backend's kernels want (transposed, biases pre-summed,
 * resident in the backend's memory). Opaque to modules; free with `dispose()`.
 */
export interface PreparedWeights {
  readonly backend: string;
  readonly mode: RecurrentMode;
  readonly inputSize: number;
  readonly hiddenSize: number;
  /** Size of `h` and of each output row: `projSize || hiddenSize`. */
  readonly outputSize: number;
  dispose(): void;
}

/**
 * Arguments of a fused layer kernel: one direction of one layer over a whole sequence.
 *
 * Padded layout (no `batchSizes`): `x` is time-major `[T, B, inputSize]`, contiguous, and output
 * step `t`, batch `b`, unit `j` goes to `out[(t * B + b) * outStride + outOffset + j]`, so both
 * directions of a bidirectional layer write straight into one `[T, B, 2 * outputSize]` buffer.
 *
 * Packed layout (with `batchSizes`, PyTorch's PackedSequence): step `t` has `batchSizes[t]` rows
 * (non-increasing, `batchSizes[0] = B`), stored one step after another, so `x` is
 * `[sum(batchSizes), inputSize]` and row `r` of the output goes to `out[r * outStride + outOffset]`.
 * Sequence `b` then runs only over the steps where `b < batchSizes[t]`; in reverse it starts at its
 * own last step. `hN`/`cN` hold each sequence's state after its own last step. No work is spent on
 * padding.
 *
 * `h0` may be the same array as `hN` (and `c0` as `cN`) to update a state in place.
 */
export interface LayerArgs {
  weights: PreparedWeights;
  x: Float32Array;
  seqLen: number;
  batch: number;
  /** `[B, outputSize]` initial hidden state; zeros when null. */
  h0: Float32Array | null;
  /** `[B, hiddenSize]` initial cell state (LSTM only); zeros when null. */
  c0?: Float32Array | null;
  out: Float32Array;
  outOffset: number;
  outStride: number;
  /** `[B, outputSize]`, receives the final hidden state. */
  hN: Float32Array;
  /** `[B, hiddenSize]`, receives the final cell state (LSTM only). */
  cN?: Float32Array | null;
  reverse?: boolean;
  /** Rows per time step for packed input (length `seqLen`); null or absent for padded input. */
  batchSizes?: Int32Array | null;
}

/** Options of `Backend.matmul`. */
export interface MatmulOptions {
  /** B is given as `[n, k]` (e.g. a PyTorch weight) and used transposed. */
  transB?: boolean;
  /** Write into this array of `m * n` values instead of a new one. */
  out?: Float32Array;
  /** Add the product to `out`'s values instead of overwriting them. */
  accumulate?: boolean;
}

/** Elementwise functions a backend provides as primitives. */
export type UnaryOp = 'sigmoid' | 'tanh' | 'relu' | 'neg' | 'exp';
export type BinaryOp = 'add' | 'sub' | 'mul' | 'div';

/**
 * A compute backend. Third parties can implement one and `registerBackend` it.
 * @example
 * const myBackend: Backend = { name: 'mine', priority: 5, interfaceVersion: 1, init: async () => {}, ... };
 */
export interface Backend {
  readonly name: string;
  /** Higher is tried first by `ready()`. */
  readonly priority: number;
  readonly interfaceVersion: number;
  /** Resolves when usable; a rejection means "not available here". */
  init(): Promise<void>;
  /** Optional synchronous initialisation, used to activate a default backend lazily on first use. */
  initSync?(): void;
  /** Why a capability is missing, if the backend knows (e.g. no WebAssembly SIMD); null when none. */
  unavailableReason?(): string | null;

  // Primitives. `out` (when given) must have the right length; the result is returned.
  /** `C[m,n] = A[m,k] @ B[k,n]` (or `B^T` stored `[n,k]` when `transB`), row-major, plus `C` when `accumulate`. */
  matmul(a: Float32Array, b: Float32Array, m: number, k: number, n: number, options?: MatmulOptions): Float32Array;
  unary(op: UnaryOp, x: Float32Array, out?: Float32Array): Float32Array;
  /** Elementwise with broadcasting of `b` when `b.length` divides `a.length` (row vector). */
  binary(op: BinaryOp, a: Float32Array, b: Float32Array, out?: Float32Array): Float32Array;
  /** Permutes the axes of a contiguous tensor of `shape`. */
  transpose(x: Float32Array, shape: readonly number[], perm: readonly number[], out?: Float32Array): Float32Array;

  // Fused recurrent kernels.
  prepareWeights(weights: RecurrentWeights): PreparedWeights;
  rnnLayer(args: LayerArgs): void;
  lstmLayer(args: LayerArgs): void;
  gruLayer(args: LayerArgs): void;
}
