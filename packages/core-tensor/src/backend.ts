// The contract between recur's modules and its kernels (version 2). A backend prepares weights once,
// runs one fused kernel per layer and direction against a workspace the caller owns, and declares
// what else it can do as capabilities; optional members are used only where declared, so a backend
// written against this version keeps working as recur learns to use new capabilities.

import type { RecurrentMode } from './layout.js';

/**
 * The contract's major version. A backend states the version it implements; the registry accepts
 * exactly this major version and reads everything newer from `capabilities`.
 * @example
 * const myBackend = { name: 'mine', priority: 5, interfaceVersion: BACKEND_INTERFACE_VERSION }; // plus init(), the kernels, ...
 */
export const BACKEND_INTERFACE_VERSION = 2;

/**
 * What a backend can do beyond the required members. Absent fields mean "no" (threads: 1).
 * @example
 * backendStatus()[0]?.capabilities; // { backward: true, threads: 2, async: false, sync: true, concurrent: true }
 */
export interface BackendCapabilities {
  /** `layerBackward` is implemented: gradients through the fused layers (a training workspace keeps the reserve). */
  readonly backward?: boolean;
  /** Threads the kernels may run on; 1 when absent. */
  readonly threads?: number;
  /**
   * Results come back asynchronously and activations stay in the backend's memory: `upload`,
   * `allocate` and `layerAsync` are implemented, modules reach the backend through `forwardAsync`,
   * and the synchronous `layer`/`matmul` may throw a `BackendError` saying so.
   */
  readonly async?: boolean;
  /**
   * With `async`: `layer` (and `matmul`) run synchronously too, so `forward()` works beside
   * `forwardAsync()`: a backend that only offloads its asynchronous calls (wasm's worker proxy, whose
   * `forwardAsync` runs in a worker while `forward` runs on the calling thread).
   */
  readonly sync?: boolean;
  /**
   * `layers` is implemented: independent layer calls (the two directions of a bidirectional layer),
   * each with its own workspace, may run side by side, with the results `layer` gives each in turn.
   */
  readonly concurrent?: boolean;
}

/**
 * One direction of one layer's weights in PyTorch's layout (row-major, gates stacked on rows).
 * `G = gateCount(mode)`, `H = hiddenSize`, `P = projSize || H` (the size of `h`).
 * @example
 * const w: RecurrentWeights = {
 *   mode: 'gru', inputSize: 4, hiddenSize: 8, projSize: 0,
 *   weightIh: new Float32Array(3 * 8 * 4), weightHh: new Float32Array(3 * 8 * 8),
 *   biasIh: null, biasHh: null, weightHr: null,
 * };
 * const prepared = backend.prepareWeights(w);
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
 * Weights converted once into the layout a backend's kernels want (transposed, biases folded,
 * resident in the backend's memory). Immutable once prepared, opaque to modules; free with
 * `dispose()`, after which any kernel given them throws a `BackendError`.
 * @example
 * const prepared = backend.prepareWeights(weights);
 * backend.layer({ ...args, weights: prepared }, workspace);
 * prepared.dispose();
 */
export interface PreparedWeights {
  readonly backend: string;
  readonly mode: RecurrentMode;
  readonly inputSize: number;
  readonly hiddenSize: number;
  /** Size of `h` and of each output row: `projSize || hiddenSize`. */
  readonly outputSize: number;
  readonly disposed: boolean;
  /** Frees what this holds in the backend's memory; using it afterwards is a `BackendError`. */
  dispose(): void;
}

/**
 * Options of `Backend.createWorkspace`.
 * @example
 * const ws = backend.createWorkspace({ training: true }); // keeps the reserve for layerBackward
 */
export interface WorkspaceOptions {
  /**
   * Keep each forward call's per-step activations (the reserve space, as cuDNN calls it) for
   * `layerBackward`. Only meaningful on a backend with the `backward` capability. Default false.
   */
  training?: boolean;
}

/**
 * Everything a kernel call needs besides its arguments: scratch buffers sized to the largest call
 * so far and, for training, the reserve space. Kernels keep no state anywhere else, so calls with
 * different workspaces are independent (one per thread, one per layer while training). A workspace
 * serves one call at a time; free it with `dispose()`, after which kernels given it throw.
 * @example
 * const ws = backend.createWorkspace();
 * backend.layer(args, ws); // one call at a time per workspace
 * ws.dispose();
 */
export interface Workspace {
  readonly backend: string;
  readonly training: boolean;
  readonly disposed: boolean;
  /** Frees what this holds in the backend's memory; using it afterwards is a `BackendError`. */
  dispose(): void;
}

/**
 * A buffer in an asynchronous backend's memory (a GPU buffer, say), chained from layer to layer
 * without a round trip through JavaScript.
 * @example
 * const x = backend.upload!(new Float32Array([1, 2, 3]));
 * const values = await x.read(); // Float32Array [1, 2, 3]
 * x.dispose();
 */
export interface DeviceBuffer {
  readonly backend: string;
  /** Number of float32 values. */
  readonly length: number;
  /** Copies the values back into JavaScript memory. */
  read(): Promise<Float32Array>;
  /** Frees what this holds in the backend's memory; using it afterwards is a `BackendError`. */
  dispose(): void;
}

/**
 * Arguments of a fused layer kernel: one direction of one layer over a whole sequence. `Buf` is a
 * `Float32Array` for `layer`, a `DeviceBuffer` for `layerAsync`.
 *
 * Padded layout (no `batchSizes`): `x` is time-major `[T, B, inputSize]`, contiguous, and output
 * step `t`, batch `b`, unit `j` goes to `out[(t * B + b) * outStride + outOffset + j]`, so both
 * directions of a bidirectional layer write straight into one `[T, B, 2 * outputSize]` buffer.
 *
 * Packed layout (with `batchSizes`, PyTorch's PackedSequence): step `t` has `batchSizes[t]` rows
 * (non-increasing, `batchSizes[0] = B`), stored one step after another, so `x` is
 * `[sum(batchSizes), inputSize]` and row `r` of the output goes to `out[r * outStride + outOffset]`.
 * Sequence `b` then runs only over the steps where `b < batchSizes[t]`; in reverse it starts at its
 * own last step (`advanceStep` walks this order). `hN`/`cN` hold each sequence's state after its own
 * last step. No work is spent on padding.
 *
 * `h0` may be the same array as `hN` (and `c0` as `cN`) to update a state in place.
 * @example
 * backend.layer({
 *   weights: prepared, x, seqLen: T, batch: B, h0: null, c0: null,
 *   out, outOffset: 0, outStride: P, hN, cN: null, reverse: false, batchSizes: null,
 * }, workspace);
 */
export interface LayerArgs<Buf = Float32Array> {
  weights: PreparedWeights;
  x: Buf;
  seqLen: number;
  batch: number;
  /** `[B, outputSize]` initial hidden state; zeros when null. */
  h0: Buf | null;
  /** `[B, hiddenSize]` initial cell state (LSTM only); zeros when null. */
  c0?: Buf | null;
  /** Receives the output rows, at the positions above and no others; after a failed call, what those hold is unspecified. */
  out: Buf;
  outOffset: number;
  outStride: number;
  /** `[B, outputSize]`, receives the final hidden state. */
  hN: Buf;
  /** `[B, hiddenSize]`, receives the final cell state (LSTM only). */
  cN?: Buf | null;
  reverse?: boolean;
  /** Rows per time step for packed input (length `seqLen`); null or absent for padded input. */
  batchSizes?: Int32Array | null;
}

/**
 * Gradients of one layer call, for backends with the `backward` capability. `forward` is the exact
 * argument object of the `layer` call made with the same (training) workspace just before, whose
 * reserve holds that call's per-step activations, so the backward pass recomputes no GEMM of the
 * forward. Incoming gradients may be null (zero); outgoing ones are written when given: `dx`, `dh0`
 * and `dc0` are overwritten, parameter gradients (PyTorch's layout) are added to, as `.grad` accumulates.
 * @example
 * backend.layerBackward!({ forward: args, dOut, dhN: null, dcN: null, dx, dh0: null, dc0: null, grads }, trainingWorkspace);
 */
export interface LayerBackwardArgs {
  forward: LayerArgs;
  /** dL/d(output rows), in `forward.out`'s layout (same offset and stride). */
  dOut: Float32Array | null;
  /** dL/d hN `[B, outputSize]`. */
  dhN: Float32Array | null;
  /** dL/d cN `[B, hiddenSize]` (LSTM). */
  dcN?: Float32Array | null;
  /** Receives dL/dx, in `forward.x`'s layout. */
  dx: Float32Array | null;
  /** Receives dL/dh0 `[B, outputSize]`. */
  dh0: Float32Array | null;
  /** Receives dL/dc0 `[B, hiddenSize]` (LSTM). */
  dc0?: Float32Array | null;
  /** Added to: gradients of the weights the forward ran on, shaped as `RecurrentWeights`. */
  grads: {
    weightIh: Float32Array;
    weightHh: Float32Array;
    biasIh: Float32Array | null;
    biasHh: Float32Array | null;
    weightHr: Float32Array | null;
  };
}

/**
 * Options of `Backend.matmul`.
 * @example
 * backend.matmul(a, b, m, k, n, { transB: true, out, accumulate: true }); // out += a @ b^T
 */
export interface MatmulOptions {
  /** B is given as `[n, k]` (e.g. a PyTorch weight) and used transposed. */
  transB?: boolean;
  /** Write into this array of `m * n` values instead of a new one. */
  out?: Float32Array;
  /** Add the product to `out`'s values instead of overwriting them. */
  accumulate?: boolean;
}

/**
 * A compute backend. Third parties can implement one and `registerBackend` it; it must pass the
 * conformance suite (`describeKernelConformance`, see the README's "Writing a backend").
 * @example
 * const mine: Backend = {
 *   name: 'mine', priority: 5, interfaceVersion: BACKEND_INTERFACE_VERSION, capabilities: {},
 *   init: async () => {}, matmul, prepareWeights, createWorkspace, layer,
 * };
 * registerBackend(mine);
 */
export interface Backend {
  readonly name: string;
  /** Higher is tried first by `ready()`. */
  readonly priority: number;
  /** `BACKEND_INTERFACE_VERSION` of the contract implemented. */
  readonly interfaceVersion: number;
  /** What the backend can do beyond the required members; `{}` when nothing. */
  readonly capabilities?: BackendCapabilities;
  /** Resolves when usable; a rejection means "not available here". */
  init(): Promise<void>;
  /** Optional synchronous initialisation, used to activate a default backend lazily on first use. */
  initSync?(): void;
  /** Why the backend (or one of its capabilities) is unavailable here, if it knows; null when nothing is missing. Shown by `backendStatus()`. */
  unavailableReason?(): string | null;

  /** `C[m,n] = A[m,k] @ B[k,n]` (or `B^T` stored `[n,k]` when `transB`), row-major, plus `C` when `accumulate`. */
  matmul(a: Float32Array, b: Float32Array, m: number, k: number, n: number, options?: MatmulOptions): Float32Array;

  /** Converts one layer direction's weights into the kernels' layout. */
  prepareWeights(weights: RecurrentWeights): PreparedWeights;
  /** A workspace for this backend's kernel calls. */
  createWorkspace(options?: WorkspaceOptions): Workspace;
  /** One direction of one layer over a sequence, for every mode (the prepared weights carry it). */
  layer(args: LayerArgs, workspace: Workspace): void;
  /** With `capabilities.backward`: gradients of the `layer` call just made with this workspace. */
  layerBackward?(args: LayerBackwardArgs, workspace: Workspace): void;

  /**
   * With `capabilities.concurrent`: runs independent layer calls, each with its own workspace, possibly
   * at the same time (a threaded backend runs the two directions of a bidirectional layer side by
   * side); the results are exactly those of `layer` on each call in turn.
   */
  layers?(calls: ReadonlyArray<{ args: LayerArgs; workspace: Workspace }>): void;
  /** With `capabilities.async`: a device buffer holding a copy of `data`. */
  upload?(data: Float32Array): DeviceBuffer;
  /** With `capabilities.async`: a device buffer of `length` zeros. */
  allocate?(length: number): DeviceBuffer;
  /** With `capabilities.async`: `layer` on device buffers, resolved when the results are in `out`/`hN`/`cN`. */
  layerAsync?(args: LayerArgs<DeviceBuffer>, workspace: Workspace): Promise<void>;
}
