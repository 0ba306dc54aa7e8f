// One instantiated set of kernels with its own memory: the allocator, the prepared weights and
// workspaces it owns, and the JS side of every kernel call (copy activations in, run, copy out).
// Per-call state lives in the caller's workspace; steady-state calls allocate no JS objects and do
// not grow the memory.

import {
  BackendError,
  type LayerArgs,
  type LayerBackwardArgs,
  type MatmulOptions,
  type PreparedWeights,
  type RecurrentMode,
  type RecurrentWeights,
  type Workspace,
  type WorkspaceOptions,
  checkLayerArgs,
  checkMatmulArgs,
  foldBiases,
  gateCount,
  outArray,
} from '@recur/core-tensor';
import { WasmHeap } from './heap.js';
import type { KernelExports } from './module.js';
import { CONTROL_BYTES, type ThreadPool } from './pool.js';

const roundUp8 = (n: number) => (n + 7) & ~7;
const align = (bytes: number) => Math.ceil(bytes / 64) * 64;

/** Floats of W staged at a time while packing (1 MiB; at least 8 rows). */
const STAGING_FLOATS = 1 << 18;

/** Frees the blocks of prepared weights and workspaces garbage-collected without dispose(). */
const finalizer =
  typeof FinalizationRegistry === 'function'
    ? new FinalizationRegistry<{ heap: WasmHeap; ptrs: number[] }>(({ heap, ptrs }) => {
        for (const p of ptrs) heap.release(p);
      })
    : null;

/**
 * B = W^T straight from PyTorch's [rows, cols] layout into panels of `width` (8 for gemm, 16 for the
 * one-row gemv16) columns, at memory `take` gives. Each panel of B is `width` rows of W, so W goes
 * through a small staging block a few panels at a time: packing grows the memory by the packed
 * weights, not by a second, unpacked copy.
 */
function packPanels(runtime: WasmRuntime, src: Float32Array, rows: number, cols: number, width: 8 | 16, take: (bytes: number) => number): number {
  const { kernels, heap } = runtime;
  const size = width === 8 ? kernels.packedSize : kernels.packedSize16;
  const dst = take(size(cols, rows));
  const chunk = Math.max(width, Math.floor(STAGING_FLOATS / cols / width) * width);
  const tmp = heap.alloc(Math.min(rows, chunk) * cols * 4);
  try {
    for (let r = 0; r < rows; r += chunk) {
      const n = Math.min(chunk, rows - r);
      heap.f32.set(src.subarray(r * cols, (r + n) * cols), tmp >> 2);
      const at = dst + (r / width) * size(cols, width);
      if (width === 8) kernels.packB(tmp, cols, n, 1, cols, at);
      else kernels.packB16(tmp, cols, n, 1, cols, at);
    }
  } finally {
    heap.release(tmp);
  }
  return dst;
}

/** Weights packed into the kernels' panels inside one runtime's memory. */
export class WasmPreparedWeights implements PreparedWeights {
  readonly mode: RecurrentMode;
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly outputSize: number;
  readonly gh8: number;
  /** Packed W_ih^T, W_hh^T and (LSTM projection) W_hr^T; bias [gh8]; GRU's b_hn [H]. */
  readonly wih: number;
  readonly whh: number;
  readonly whr: number;
  readonly bias: number;
  readonly bhn: number;
  /** The weights as given, in PyTorch's layout (packed again, untransposed, by the backward pass). */
  readonly source: RecurrentWeights;
  /**
   * The cost model's last decision for these weights (WasmRuntime.threadsFor), reused for calls of the
   * same sizes: threads, rows, steps, the calls since it was worked out and how many calls it holds for,
   * and the pool's number.
   */
  readonly split = { nt: 1, rows: -1, seqLen: -1, uses: 0, every: 1, pool: 0 };
  /** How these weights' threaded one-row steps run: fixed shares, or the work queues (RowPolicy). */
  readonly rowPolicy = new RowPolicy();
  private ptrs: number[];

  constructor(
    readonly runtime: WasmRuntime,
    readonly backend: string,
    w: RecurrentWeights,
  ) {
    const { heap } = runtime;
    const G = gateCount(w.mode);
    const H = w.hiddenSize;
    const P = w.projSize > 0 ? w.projSize : H;
    const GH = G * H;
    this.source = w;
    this.mode = w.mode;
    this.inputSize = w.inputSize;
    this.hiddenSize = H;
    this.outputSize = P;
    this.gh8 = roundUp8(GH);
    const ptrs: number[] = [];
    const take = (bytes: number) => {
      const p = heap.alloc(bytes);
      ptrs.push(p);
      return p;
    };
    try {
      const pack = (src: Float32Array, rows: number, cols: number) => packPanels(runtime, src, rows, cols, 8, take);
      this.wih = pack(w.weightIh, GH, w.inputSize);
      this.whh = pack(w.weightHh, GH, P);
      this.whr = w.projSize > 0 && w.weightHr ? pack(w.weightHr, P, H) : 0;
      this.bias = take(this.gh8 * 4);
      this.bhn = take(Math.max(roundUp8(H), 8) * 4);
      const bias = new Float32Array(this.gh8);
      const bhn = new Float32Array(Math.max(roundUp8(H), 8));
      foldBiases(w.mode, H, w.biasIh, w.biasHh, bias, w.mode === 'gru' ? bhn : null);
      heap.f32.set(bias, this.bias >> 2);
      heap.f32.set(bhn, this.bhn >> 2);
    } catch (error) {
      for (const p of ptrs) heap.release(p);
      throw error;
    }
    this.ptrs = ptrs;
    finalizer?.register(this, { heap, ptrs }, this);
  }

  dispose(): void {
    for (const p of this.ptrs) this.runtime.heap.release(p);
    this.ptrs = [];
    finalizer?.unregister(this);
    const hooks = this.#onDispose;
    this.#onDispose = [];
    for (const hook of hooks) hook();
  }

  #onDispose: Array<() => void> = [];

  /** Runs `hook` when these weights are disposed (a proxy frees its worker's copy). */
  onDispose(hook: () => void): void {
    this.#onDispose.push(hook);
  }

  /** W_hh^T in 16-column panels for one-row steps (assembly/gemm.ts, gemv16), or 0 until first asked for. */
  private whh16 = 0;

  /**
   * W_hh^T in 16-column panels, packed on the first call with a one-row step (a batch-1 stream, or
   * packed sequences down to one): 0 where the hidden size is not a multiple of 16. Batched models
   * never pay for the second copy.
   */
  rowPanels(): number {
    if (this.whh16 === 0 && this.hiddenSize % 16 === 0 && this.ptrs.length > 0) {
      const ptrs = this.ptrs;
      this.whh16 = packPanels(this.runtime, this.source.weightHh, gateCount(this.mode) * this.hiddenSize, this.outputSize, 16, (bytes) => {
        const p = this.runtime.heap.alloc(bytes);
        ptrs.push(p);
        return p;
      });
    }
    return this.whh16;
  }

  /** True after dispose(), and once the runtime's heap was dropped by the backend's reset(). */
  get disposed(): boolean {
    return this.ptrs.length === 0 || this.runtime.dropped;
  }
}

/** Rows below which a step runs fixed shares, or the queues as RowPolicy says (assembly/layers.ts, QUEUED_ROWS). */
const QUEUED_ROWS = 4;

/** Steps per window of the one-row policy, and windows between two probes of the queues. */
const ROW_WINDOW = 256;
const ROW_PROBE_EVERY = 16;

/**
 * Whether a model's threaded one-row steps (a streamed sequence or frame, batch below 4) run fixed
 * shares of units or go through the work queues (assembly/layers.ts, ROW_QUEUES). Fixed shares are
 * 5-15% faster when the cores keep pace with each other; the queues let a thread take over the tasks
 * of a core that is slower for whole calls (a little core, a busy sibling hyperthread): 20% faster
 * than fixed shares with one thread at half speed (bench/README.md). So the queues run for one window
 * of steps in every ROW_PROBE_EVERY, and for as long after as tasks keep moving between threads (at
 * least one a step in four). Integers only: it runs after every streamed frame.
 */
export class RowPolicy {
  /** Steps of the current window go through the queues (the first window is a probe). */
  queues = true;
  steps = 0;
  moved = 0;
  windows = 0;

  /** Counts a threaded one-row call of `steps` steps in which `moved` tasks changed threads. */
  record(steps: number, moved: number): void {
    this.steps += steps;
    if (this.queues) this.moved += moved;
    if (this.steps < ROW_WINDOW) return;
    if (this.queues) {
      this.queues = this.moved * 4 >= this.steps;
      if (!this.queues) this.windows = 0;
    } else if (++this.windows >= ROW_PROBE_EVERY) {
      this.queues = true;
    }
    this.steps = 0;
    this.moved = 0;
  }
}

/**
 * Where the work queues of threaded calls live, in the first page (which the module's statics leave
 * empty: it has no data segment): 4 lines of 64 bytes per thread for each of the two teams of a pair,
 * at most 64 threads: 32 KiB, below the descriptors.
 */
const QUEUES_AT = 16 * 1024;

/** Bytes of a layer call's descriptor: 32 i32 slots (assembly/layers.ts). */
const DESC_BYTES = 128;
/** Where the descriptor and then the control block live: high in the first page, far above the statics. */
const DESC_AT = 60 * 1024;

/** A pair of bidirectional calls runs one after the other on every thread from this step time per thread. */
const STEP_NS_SHARED = 20_000;
/** Output floats from which a threaded call brings the output's pages in while the others start (touchOut). */
const PREFAULT_FLOATS = 1 << 16;

/** A view of the heap that copyOut reads with one `set`, and where it was taken. */
interface HeapView {
  view: WeakRef<Float32Array> | null;
  start: number;
  length: number;
}

/**
 * A wasm workspace: one scratch block in its runtime's memory, grown to the largest call so far and
 * released by `dispose()`, plus the offsets of the current call's buffers inside it.
 */
export class WasmWorkspace implements Workspace {
  readonly training: boolean;
  /** The scratch block (0 before the first call) and its size in bytes. */
  ptr = 0;
  bytes = 0;
  /** Byte offsets of the current layer call's buffers inside the block. */
  readonly layout = { x: 0, gx: 0, out: 0, h: 0, h2: 0, c: 0, hfull: 0, ptmp: 0, sizes: 0, gates: 0, acts: 0, cs: 0, hs: 0, hfulls: 0 };
  /** The arguments of the forward call whose activations the reserve (acts, cs, hs, hfulls) holds. */
  savedFor: LayerArgs | null = null;
  /**
   * A training call's block, copied into JavaScript memory after the forward so the wasm block can
   * go back to the heap at once: a graph that never runs backward then holds only memory the
   * garbage collector sees and frees, and wasm memory stays flat. `layerBackward` copies it back in.
   */
  snapshot: Float32Array | null = null;
  /** The byte offset the layout's pointers refer to while the snapshot is out of wasm memory. */
  snapshotBase = 0;
  /** Bytes of the block the current call uses. */
  used = 0;
  /** Input rows of the current layer call, as `checkLayerArgs` counted them. */
  rows = 0;
  /** The heap views copyOut reads (out, h, c), held weakly (WasmRuntime.heapView). */
  readonly views: HeapView[] = [0, 1, 2].map(() => ({ view: null, start: -1, length: -1 }));
  /** Shared with the finalizer, so a workspace dropped without dispose() still frees its block. */
  private readonly owned: number[] = [];
  #disposed = false;

  constructor(
    readonly runtime: WasmRuntime,
    readonly backend: string,
    options: WorkspaceOptions,
  ) {
    this.training = options.training ?? false;
    finalizer?.register(this, { heap: runtime.heap, ptrs: this.owned }, this);
  }

  /**
   * Grows the block to at least `bytes` (by half again, so growth stays rare) and returns it. The old
   * block is released first (a call's buffers are laid out afresh), so the new one can take its place
   * and the memory grows by the difference, not by both.
   */
  reserve(bytes: number): number {
    if (this.bytes < bytes) {
      const size = Math.max(bytes, Math.ceil(this.bytes * 1.5));
      const heap = this.runtime.heap;
      if (this.bytes > 0) heap.release(this.ptr);
      this.ptr = 0;
      this.bytes = 0;
      this.owned.length = 0;
      this.ptr = heap.alloc(size);
      this.bytes = size;
      this.owned[0] = this.ptr;
    }
    return this.ptr;
  }

  /** Gives the block back to the heap (the next call reserves one again). */
  releaseBlock(): void {
    if (this.bytes > 0) this.runtime.heap.release(this.ptr);
    this.ptr = 0;
    this.bytes = 0;
    this.owned.length = 0;
  }

  /** True after dispose(), and once the runtime's heap was dropped by the backend's reset(). */
  get disposed(): boolean {
    return this.#disposed || this.runtime.dropped;
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.snapshot = null;
    if (this.bytes > 0) this.runtime.heap.release(this.ptr);
    this.ptr = 0;
    this.bytes = 0;
    this.owned.length = 0;
    finalizer?.unregister(this);
  }
}

export class WasmRuntime {
  readonly heap: WasmHeap;
  #kernels: KernelExports | null;
  /** The layer call's descriptor (assembly/layers.ts) and the threads' control block (src/pool.ts). */
  readonly desc: number;
  readonly ctl: number;
  /** The second team's descriptor and control block, for a pair of calls side by side. */
  readonly desc2: number;
  readonly ctl2: number;
  /** The worker pool once started (threads > 1 on a shared memory), else null: one thread. */
  pool: ThreadPool | null = null;
  /** Single-threaded GEMM throughput measured when the pool started, for the cost model (flop/ns). */
  flopsPerNs = 0;
  /** Layer calls run on several threads, and on the calling thread alone. */
  threadedCalls = 0;
  singleCalls = 0;
  /** Every call on all the pool's threads, whatever the cost model says (tests, measurements). */
  alwaysSplit = false;
  /** One-row steps through the work queues: as RowPolicy decides, or always or never (tests, measurements). */
  rowQueues: 'auto' | 'always' | 'never' = 'auto';
  /** Threads the last layer call ran on. */
  lastThreads = 1;
  /**
   * The work queues of a threaded call (assembly/layers.ts): 4 lines of 64 bytes per thread of the pool,
   * the first team's, then the second's of a pair.
   */
  readonly queues = QUEUES_AT;
  /** Tasks (blocks of a step's units, chunks of the projection's rows) a thread took from another's share. */
  tasksMoved = 0;

  #memory: WebAssembly.Memory | null;

  constructor(
    kernels: KernelExports,
    memory: WebAssembly.Memory,
    readonly backendName: string,
  ) {
    this.#kernels = kernels;
    this.#memory = memory;
    this.heap = new WasmHeap(memory);
    // They live in the first page, which the heap leaves to the module (whose statics are a few bytes):
    // a descriptor and a control block per team of a pair of calls (layers()).
    this.desc = DESC_AT;
    this.ctl = DESC_AT + DESC_BYTES;
    this.ctl2 = this.ctl + CONTROL_BYTES;
    this.desc2 = this.ctl2 + CONTROL_BYTES;
    this.heap.i32.fill(0, this.desc >> 2, (this.desc2 + DESC_BYTES) >> 2);
  }

  /**
   * Threads for one layer call: the pool's size where the work it takes off this thread outweighs the
   * measured cost of the call and of its barriers, else 1. Only GEMM work that splits counts: the step's
   * when H (and an LSTM projection's P) is a multiple of 8, the input projection's always.
   */
  private threadsFor(args: LayerArgs, w: WasmPreparedWeights, rows: number): number {
    // The decision is kept on the weights and reused for calls of the same sizes (a streamed frame asks
    // on every step), and worked out again after about a millisecond of work (every call for a large
    // one, so a remeasure can change it at once; at most every 256th for small ones). A reuse compares
    // small integers only: the cost model's floating-point arithmetic allocates a number per operation
    // until V8 optimises it, which a loaded machine can put off for seconds (96 bytes a frame
    // measured), and a clock reading it does not inline allocates too.
    const m = w.split;
    // Worked out again too when the pool came, went or broke since.
    // (By the pool's number: a reference from the weights would keep a dropped pool's memory alive.)
    const pool = this.pool === null ? 0 : this.pool.id;
    const stale = m.pool !== pool || (m.nt > 1 && this.pool !== null && this.pool.broken !== null);
    if (++m.uses >= m.every || m.rows !== rows || m.seqLen !== args.seqLen || stale) {
      m.nt = this.splitOver(args, w, rows);
      m.rows = rows;
      m.seqLen = args.seqLen;
      m.pool = pool;
      m.uses = 0;
      m.every = Math.max(1, Math.min(256, Math.floor(1e6 / Math.max(this.oneThreadNs(w, rows), 1))));
    }
    this.lastThreads = m.nt;
    return m.nt;
  }

  private splitOver(args: LayerArgs, w: WasmPreparedWeights, rows: number): number {
    const pool = this.pool;
    if (!pool || pool.broken || this.flopsPerNs === 0) return 1;
    const nt = pool.size;
    if (this.alwaysSplit) return nt;
    const H = w.hiddenSize;
    const P = w.outputSize;
    const G = gateCount(w.mode);
    const proj = w.whr !== 0;
    const stepSplits = H % 8 === 0 && (!proj || P % 8 === 0);
    const T = args.seqLen;
    let flops = 2 * rows * G * H * w.inputSize;
    if (stepSplits) flops += 2 * rows * (G * H * P + (proj ? P * H : 0));
    const saved = (flops / this.flopsPerNs) * (1 - 1 / nt);
    // The kernels' barriers (assembly/layers.ts): one after the projection unless every step has fewer
    // than 4 rows (then each thread projects its own share), one between steps, one more inside each
    // step with a projection; the pool's join follows the last step.
    const fixedRows = H % 8 === 0 && !proj && args.batch < QUEUED_ROWS && !this.rowsQueued(w);
    const barriers = (fixedRows ? 0 : 1) + Math.max(T - 1, 0) + (proj ? T : 0);
    let cost = pool.timings.callNs + barriers * pool.timings.barrierNs;
    if (saved > 1.2 * cost) return nt;
    // Close to paying, or much work: the start-up timings may have caught a busy moment; measure again
    // (at most once a second) before keeping it on one thread.
    if ((saved > 0.1 * cost || saved > 1e5) && pool.remeasure()) {
      cost = pool.timings.callNs + barriers * pool.timings.barrierNs;
      if (saved > 1.2 * cost) return nt;
    }
    return 1;
  }

  /** The memory the kernels run on (shared when threads may run). */
  get memory(): WebAssembly.Memory {
    if (!this.#memory) throw this.droppedError('memory');
    return this.#memory;
  }

  get kernels(): KernelExports {
    if (!this.#kernels) throw this.droppedError('kernels');
    return this.#kernels;
  }

  /** True once `drop()` let go of the memory. */
  get dropped(): boolean {
    return this.#kernels === null;
  }

  /**
   * Lets go of the kernels' instance and of the memory (both reach the memory's buffer), so it can be
   * garbage-collected while weights and workspaces made here survive: they report `disposed` and
   * any kernel given them throws a BackendError.
   */
  drop(): void {
    this.#kernels = null;
    this.#memory = null;
    this.pool?.dispose();
    this.pool = null;
    this.heap.drop();
  }

  /**
   * `length` floats of the heap from float index `start`, as view `i` of the workspace's: kept while
   * the memory's buffer and the offsets and lengths stay the same, so a stream's frames, which call
   * with the same ones every time, copy out with one `set` each without allocating a view per frame.
   * Held weakly, so a workspace kept after reset() does not keep the dropped memory alive.
   */
  private heapView(ws: WasmWorkspace, i: number, f32: Float32Array, start: number, length: number): Float32Array {
    const v = ws.views[i]!;
    const view = v.view?.deref();
    if (view !== undefined && view.buffer === f32.buffer && v.start === start && v.length === length) return view;
    const fresh = f32.subarray(start, start + length);
    // (An engine without WeakRef takes a view per call.)
    if (typeof WeakRef === 'function') v.view = new WeakRef(fresh);
    v.start = start;
    v.length = length;
    return fresh;
  }

  private droppedError(where: string): BackendError {
    return new BackendError(
      `${this.backendName}.${where}: the weights or workspace were made before ${this.backendName}.reset() dropped the heap they lived in; prepare the weights and create the workspace again (a module: create it anew, or loadStateDict into it, after the reset)`,
    );
  }

  /**
   * Refuses weights or a workspace of another runtime of this backend: a dropped one (before a reset)
   * or another instance. Allocates nothing unless it throws: a streamed frame runs it.
   */
  private checkOwner(where: string, w: unknown, ws: unknown): void {
    const other =
      w instanceof WasmPreparedWeights && w.runtime !== this
        ? w.runtime
        : ws instanceof WasmWorkspace && ws.runtime !== this
          ? ws.runtime
          : null;
    if (!other) return;
    if (other.dropped) throw other.droppedError(where);
    throw new BackendError(`${this.backendName}.${where}: weights or workspace belong to another instance of the '${this.backendName}' backend`);
  }

  prepare(w: RecurrentWeights): WasmPreparedWeights {
    return new WasmPreparedWeights(this, this.backendName, w);
  }

  createWorkspace(options: WorkspaceOptions = {}): WasmWorkspace {
    return new WasmWorkspace(this, this.backendName, options);
  }

  /** The call whose output touchOut brings in, and its rows. */
  private touching: LayerArgs | null = null;
  private touchRows = 0;

  /**
   * Writes a zero into every 4 KB page of a threaded call's output rows, at positions the call writes
   * anyway. The first write to a page of a fresh Float32Array is a page fault: 1.5-2 ms for the 3.3 MB
   * output of 100 steps of 32 x 256 on this machine, which copyOut paid on this thread alone after
   * the call. Here it runs while the other threads start on the input projection and take this
   * thread's tasks meanwhile. (Rewriting each page's own value instead costs two faults, a read then a
   * copy-on-write, and measured slower than not touching at all.) Only for calls whose projection
   * goes through the work queues: batched steps, H a multiple of 8, no LSTM projection.
   */
  private readonly touchOut = (): void => {
    const args = this.touching!;
    this.touching = null;
    const { out, outOffset, outStride } = args;
    const P = (args.weights as WasmPreparedWeights).outputSize;
    const rows = this.touchRows;
    if (outStride === P) {
      const end = outOffset + rows * P;
      for (let i = outOffset; i < end; i += 1024) out[i] = 0;
      out[end - 1] = 0;
    } else {
      for (let r = 0, o = outOffset; r < rows; r++, o += outStride) {
        for (let j = 0; j < P; j += 1024) out[o + j] = 0;
        out[o + P - 1] = 0;
      }
    }
  };

  /** One direction of one layer over a sequence, for every mode. */
  layer(args: LayerArgs, workspace: Workspace): void {
    // begin() returns the rows alone (an object would be allocated per streamed frame wherever V8 does
    // not inline it) and has checked that the weights and workspace are this runtime's.
    const rows = this.begin('layer', args, workspace);
    const w = args.weights as WasmPreparedWeights;
    const ws = workspace as WasmWorkspace;
    const nt = this.threadsFor(args, w, rows);
    this.writeDesc(this.desc, args, w, ws, rows, nt, this.ctl, this.queues);
    if (nt > 1) {
      this.threadedCalls++;
      // A large output's pages are touched while the other threads start (see touchOut).
      const prefault = rows * w.outputSize >= PREFAULT_FLOATS && args.batch >= QUEUED_ROWS && w.hiddenSize % 8 === 0 && w.whr === 0;
      if (prefault) {
        this.touching = args;
        this.touchRows = rows;
      }
      this.pool!.runLayer(this.desc, nt, prefault ? this.touchOut : null);
      const moved = this.countMoved(this.queues, nt);
      if (args.batch < QUEUED_ROWS) w.rowPolicy.record(args.seqLen, moved);
    } else {
      this.singleCalls++;
      this.kernels.runLayer(this.desc, 0);
    }
    this.end(args, w, ws);
  }

  /**
   * Independent layer calls (the two directions of a bidirectional layer) side by side: each on its
   * own team of the pool's threads, so neither needs a barrier with the other and each keeps its
   * single-call summation order. One at a time where there is no pool, the calls are not a pair, the
   * work would not pay for the call, or their steps are long enough to share through the work queues
   * on every thread (sharesSteps: then no direction waits on its team's slowest core).
   */
  layers(calls: ReadonlyArray<{ args: LayerArgs; workspace: Workspace }>): void {
    const pool = this.pool;
    if (new Set(calls.map((c) => c?.workspace)).size !== calls.length) {
      throw new BackendError(`${this.backendName}.layers: the calls need a workspace each (a workspace serves one call at a time)`);
    }
    const [a, b] = calls;
    if (calls.length !== 2 || !a || !b || !pool || pool.broken || pool.size < 2 || !this.pairPays(a.args) || this.sharesSteps(a.args)) {
      for (const c of calls) this.layer(c.args, c.workspace);
      return;
    }
    const rowsA = this.begin('layers', a.args, a.workspace);
    const rowsB = this.begin('layers', b.args, b.workspace);
    const [wA, wsA] = [a.args.weights as WasmPreparedWeights, a.workspace as WasmWorkspace];
    const [wB, wsB] = [b.args.weights as WasmPreparedWeights, b.workspace as WasmWorkspace];
    const n0 = Math.ceil(pool.size / 2);
    const queues2 = this.queues + pool.size * 4 * 64;
    this.writeDesc(this.desc, a.args, wA, wsA, rowsA, n0, this.ctl, this.queues);
    this.writeDesc(this.desc2, b.args, wB, wsB, rowsB, pool.size - n0, this.ctl2, queues2);
    this.threadedCalls += 2;
    this.lastThreads = pool.size;
    pool.runTeams(this.desc, this.desc2, n0);
    const movedA = this.countMoved(this.queues, n0);
    const movedB = this.countMoved(queues2, pool.size - n0);
    if (a.args.batch < QUEUED_ROWS) {
      wA.rowPolicy.record(a.args.seqLen, movedA);
      wB.rowPolicy.record(b.args.seqLen, movedB);
    }
    this.end(a.args, wA, wsA);
    this.end(b.args, wB, wsB);
  }

  /**
   * True where the calls of a pair run better one after the other, each on every thread: where their
   * steps share blocks of units through the work queues (H a multiple of 8, no LSTM projection) and a
   * step is long enough (STEP_NS_SHARED per thread) that its barrier and the exchange at its end cost
   * little. Side by side, each direction would wait on its team's slowest core.
   */
  private sharesSteps(args: LayerArgs): boolean {
    const w = args.weights as WasmPreparedWeights;
    if (!(w instanceof WasmPreparedWeights) || this.flopsPerNs === 0 || w.hiddenSize % 8 !== 0 || w.whr !== 0) return false;
    const rows = args.batchSizes ? (args.batchSizes[0] ?? 0) : args.batch;
    const stepNs = (2 * rows * gateCount(w.mode) * w.hiddenSize * w.outputSize) / this.flopsPerNs;
    return stepNs / this.pool!.size >= STEP_NS_SHARED;
  }

  /** True where the one-row steps of these weights' threaded calls go through the work queues. */
  private rowsQueued(w: WasmPreparedWeights): boolean {
    return this.rowQueues === 'auto' ? w.rowPolicy.queues : this.rowQueues === 'always';
  }

  /** The tasks moved between the threads of the call just run (queue set 3 of each thread), added to tasksMoved. */
  private countMoved(queues: number, nt: number): number {
    const i32 = this.heap.i32;
    let moved = 0;
    for (let t = 0; t < nt; t++) moved += i32[(queues + (3 * nt + t) * 64) >> 2]!;
    this.tasksMoved += moved;
    return moved;
  }

  /** A pair runs side by side when one call's work outweighs the cost of publishing it (no barriers). */
  private pairPays(args: LayerArgs): boolean {
    const pool = this.pool!;
    if (this.alwaysSplit) return true;
    const w = args.weights as WasmPreparedWeights;
    if (!(w instanceof WasmPreparedWeights) || this.flopsPerNs === 0) return false;
    const rows = args.batchSizes ? args.x.length / Math.max(w.inputSize, 1) : args.seqLen * args.batch;
    return this.oneThreadNs(w, rows) > 1.2 * pool.timings.callNs;
  }

  /** One thread's time for a call of `rows` input rows (both GEMMs), by the measured rate; 0 unmeasured. */
  private oneThreadNs(w: WasmPreparedWeights, rows: number): number {
    if (this.flopsPerNs === 0) return 0;
    return (2 * rows * gateCount(w.mode) * w.hiddenSize * (w.inputSize + w.outputSize)) / this.flopsPerNs;
  }

  /** Checks a call and copies its inputs into the workspace's block. */
  private begin(where: string, args: LayerArgs, workspace: Workspace): number {
    this.checkOwner(where, args?.weights, workspace);
    const rows = checkLayerArgs(args, workspace, this.backendName);
    const w = args.weights;
    const ws = workspace;
    if (!(w instanceof WasmPreparedWeights) || w.runtime !== this || !(ws instanceof WasmWorkspace) || ws.runtime !== this) {
      throw new BackendError(`${this.backendName}.${where}: weights or workspace belong to another instance of the '${this.backendName}' backend`);
    }
    ws.rows = rows;
    ws.savedFor = null;
    this.copyIn(args, w, ws);
    return rows;
  }

  /**
   * Fills the descriptor at `at` for one call on `nt` threads whose barrier lives at `ctl`, and, for a
   * threaded call, its work queues at `queues`.
   */
  private writeDesc(at: number, args: LayerArgs, w: WasmPreparedWeights, ws: WasmWorkspace, rows: number, nt: number, ctl: number, queues: number): void {
    const L = ws.layout;
    const d = at >> 2;
    // First: packing the one-row panels may grow the memory, which replaces the heap's views.
    const sizes = args.batchSizes;
    const oneRow = args.batch === 1 || (sizes !== null && sizes !== undefined && sizes.length > 0 && sizes[sizes.length - 1] === 1);
    const whh16 = oneRow ? w.rowPanels() : 0;
    const i32 = this.heap.i32;
    const mode = w.mode === 'lstm' ? 0 : w.mode === 'gru' ? 1 : w.mode === 'rnn_tanh' ? 2 : 3;
    // The descriptor's slots are listed in assembly/layers.ts.
    i32[d] = mode;
    i32[d + 1] = args.seqLen;
    i32[d + 2] = args.batch;
    i32[d + 3] = rows;
    i32[d + 4] = w.inputSize;
    i32[d + 5] = w.hiddenSize;
    i32[d + 6] = w.outputSize;
    i32[d + 7] = args.reverse === true ? 1 : 0;
    i32[d + 8] = nt;
    i32[d + 9] = ctl;
    i32[d + 10] = L.x;
    i32[d + 11] = w.wih;
    i32[d + 12] = w.whh;
    i32[d + 13] = w.bias;
    i32[d + 14] = w.whr;
    i32[d + 15] = w.bhn;
    i32[d + 16] = args.batchSizes ? L.sizes : 0;
    i32[d + 17] = L.h;
    i32[d + 18] = L.h2;
    i32[d + 19] = L.c;
    i32[d + 20] = L.out;
    i32[d + 21] = L.gx;
    i32[d + 22] = L.hfull;
    i32[d + 23] = L.ptmp;
    i32[d + 24] = L.gates;
    i32[d + 25] = L.acts;
    i32[d + 26] = L.cs;
    i32[d + 27] = L.hs;
    i32[d + 28] = L.hfulls;
    i32[d + 29] = queues;
    // 'always' (tests) takes the others' tasks first, so work moves between threads on every call;
    // bit 2 sends one-row steps through the queues (RowPolicy).
    i32[d + 30] = (this.alwaysSplit ? 1 : 0) | (this.rowsQueued(w) ? 2 : 0);
    i32[d + 31] = whh16;
    if (nt > 1) this.kernels.queuesInit(at);
  }

  /** Copies the results out; a training call's block goes to JavaScript memory until its backward. */
  private end(args: LayerArgs, w: WasmPreparedWeights, ws: WasmWorkspace): void {
    const L = ws.layout;
    this.copyOut(args, w, ws);
    ws.savedFor = null;
    ws.snapshot = null;
    if (ws.training) {
      ws.snapshot = this.heap.f32.slice(L.x >> 2, (L.x + ws.used) >> 2);
      ws.snapshotBase = L.x;
      ws.releaseBlock();
      ws.savedFor = args;
    }
  }

  /** Lays out one layer call's buffers in the workspace's block and copies the inputs in. */
  private copyIn(args: LayerArgs, w: WasmPreparedWeights, ws: WasmWorkspace): void {
    const rows = ws.rows;
    const B = args.batch;
    const H = w.hiddenSize;
    const P = w.outputSize;
    const L = ws.layout;
    // Sizes first, then one block; written out long-hand since this runs once per streamed frame.
    const x = align(rows * w.inputSize * 4);
    const gx = align(rows * w.gh8 * 4);
    const out = align(rows * P * 4);
    const h = align(B * P * 4);
    const h2 = h;
    const c = align(B * H * 4);
    const hfull = align(B * H * 4);
    const ptmp = align(B * roundUp8(P) * 4);
    const sizes = align(args.seqLen * 4);
    const gates = align(B * w.gh8 * 4);
    // The reserve of a training workspace: what layerBackward reads, per input row.
    const train = ws.training;
    const acts = train && w.mode !== 'rnn_tanh' && w.mode !== 'rnn_relu' ? align(rows * 4 * H * 4) : 0;
    const cs = train && w.mode === 'lstm' ? align(rows * H * 4) : 0;
    const hs = train ? align(rows * P * 4) : 0;
    const hfulls = train && w.whr !== 0 ? align(rows * H * 4) : 0;
    ws.used = x + gx + out + h + h2 + c + hfull + ptmp + sizes + gates + acts + cs + hs + hfulls;
    L.x = ws.reserve(ws.used);
    L.gx = L.x + x;
    L.out = L.gx + gx;
    L.h = L.out + out;
    L.h2 = L.h + h;
    L.c = L.h2 + h2;
    L.hfull = L.c + c;
    L.ptmp = L.hfull + hfull;
    L.sizes = L.ptmp + ptmp;
    L.gates = L.sizes + sizes;
    L.acts = acts ? L.gates + gates : 0;
    L.cs = cs ? L.gates + gates + acts : 0;
    L.hs = hs ? L.gates + gates + acts + cs : 0;
    L.hfulls = hfulls ? L.gates + gates + acts + cs + hs : 0;
    const f32 = this.heap.f32;
    f32.set(args.x, L.x >> 2);
    // h is double-buffered (threads read one buffer while writing the other): both start as h0.
    if (args.h0) {
      f32.set(args.h0, L.h >> 2);
      f32.set(args.h0, L.h2 >> 2);
    } else {
      f32.fill(0, L.h >> 2, (L.h2 >> 2) + B * P);
    }
    if (w.mode === 'lstm') {
      if (args.c0) f32.set(args.c0, L.c >> 2);
      else f32.fill(0, L.c >> 2, (L.c >> 2) + B * H);
    }
    if (args.batchSizes) this.heap.i32.set(args.batchSizes, L.sizes >> 2);
  }

  private copyOut(args: LayerArgs, w: WasmPreparedWeights, ws: WasmWorkspace): void {
    const rows = ws.rows;
    const f32 = this.heap.f32;
    const P = w.outputSize;
    const L = ws.layout;
    const { out, outStride, outOffset, hN } = args;
    if (outStride === P) {
      // One memcpy for a contiguous output.
      out.set(this.heapView(ws, 0, f32, L.out >> 2, rows * P), outOffset);
    } else {
      for (let r = 0, src = L.out >> 2; r < rows; r++) {
        const o = r * outStride + outOffset;
        for (let j = 0; j < P; j++, src++) out[o + j] = f32[src]!;
      }
    }
    // After an odd number of steps the last h is in the second buffer.
    hN.set(this.heapView(ws, 1, f32, (args.seqLen & 1 ? L.h2 : L.h) >> 2, hN.length));
    const cN = args.cN;
    if (w.mode === 'lstm' && cN) cN.set(this.heapView(ws, 2, f32, L.c >> 2, cN.length));
  }

  /**
   * Gradients of the layer call just made with this (training) workspace, from its reserve. One
   * block of wasm memory holds the backward's buffers for this call only.
   */
  layerBackward(args: LayerBackwardArgs, workspace: Workspace): void {
    const f = args.forward;
    this.checkOwner('layerBackward', f?.weights, workspace);
    const rows = checkLayerArgs(f, workspace, this.backendName);
    const w = f.weights;
    const ws = workspace;
    if (!(w instanceof WasmPreparedWeights) || w.runtime !== this || !(ws instanceof WasmWorkspace) || ws.runtime !== this) {
      throw new BackendError(`${this.backendName}.layerBackward: weights or workspace belong to another instance of the '${this.backendName}' backend`);
    }
    if (!ws.training || ws.savedFor !== f || !ws.snapshot) {
      throw new BackendError(
        `${this.backendName}.layerBackward: the workspace holds no saved forward of these arguments; create it with createWorkspace({ training: true }) and call layer() with the same arguments first`,
      );
    }
    // Bring the saved block back into wasm memory and move the layout's pointers with it.
    const restored = ws.reserve(ws.snapshot.length * 4);
    this.heap.f32.set(ws.snapshot, restored >> 2);
    const shift = restored - ws.snapshotBase;
    const layout = ws.layout as Record<string, number>;
    for (const key of Object.keys(layout)) if (layout[key] !== 0) layout[key]! += shift;
    ws.snapshotBase = restored;
    const { kernels, heap } = this;
    const src = w.source;
    const T = f.seqLen;
    const B = f.batch;
    const I = w.inputSize;
    const H = w.hiddenSize;
    const P = w.outputSize;
    const GH = gateCount(w.mode) * H;
    const gh8 = w.gh8;
    const [i8, p8, h8] = [roundUp8(I), roundUp8(P), roundUp8(H)];
    const isGru = w.mode === 'gru';
    const proj = w.whr !== 0;
    const L = ws.layout;
    // Sizes in bytes, then one block.
    const parts = {
      whh: align(kernels.packedSize(GH, P)),
      wih: align(kernels.packedSize(GH, I)),
      whr: proj ? align(kernels.packedSize(P, H)) : 0,
      stage: align(Math.max(GH * Math.max(P, I), P * H) * 4),
      dOut: args.dOut ? align(rows * P * 4) : 0,
      dh: align(B * P * 4),
      dc: align(B * H * 4),
      dA: align(rows * gh8 * 4),
      dAh: isGru ? align(rows * gh8 * 4) : 0,
      hPrev: align(rows * P * 4),
      dHrow: proj ? align(rows * P * 4) : 0,
      dhFull: align(B * h8 * 4),
      dhStep: align(B * p8 * 4),
      trans: align(Math.max(GH, P) * rows * 4),
      pack: align(kernels.packedSize(rows, Math.max(I, P, H))),
      dWih: align(GH * i8 * 4),
      dWhh: align(GH * p8 * 4),
      dWhr: proj ? align(P * h8 * 4) : 0,
      dbih: align(gh8 * 4),
      dbhh: align(gh8 * 4),
      dx: args.dx ? align(rows * i8 * 4) : 0,
      h0: f.h0 ? align(B * P * 4) : 0,
      c0: f.c0 ? align(B * H * 4) : 0,
      steps: align(T * 4),
      desc: align(29 * 4),
    };
    const base = heap.alloc(Object.values(parts).reduce((a, b) => a + b, 0));
    try {
      const at: Record<keyof typeof parts, number> = { ...parts };
      let o = base;
      for (const k of Object.keys(parts) as Array<keyof typeof parts>) {
        at[k] = parts[k] ? o : 0;
        o += parts[k];
      }
      const f32 = () => heap.f32;
      const pack = (m: Float32Array, k: number, n: number, dst: number) => {
        f32().set(m, at.stage >> 2);
        kernels.packB(at.stage, k, n, n, 1, dst);
      };
      pack(src.weightHh, GH, P, at.whh);
      pack(src.weightIh, GH, I, at.wih);
      if (proj && src.weightHr) pack(src.weightHr, P, H, at.whr);
      if (args.dOut) {
        const d = f32();
        for (let r = 0; r < rows; r++) d.set(args.dOut.subarray(r * f.outStride + f.outOffset, r * f.outStride + f.outOffset + P), (at.dOut >> 2) + r * P);
      }
      const fillOrCopy = (ptr: number, n: number, v: Float32Array | null | undefined) => {
        if (v) f32().set(v, ptr >> 2);
        else f32().fill(0, ptr >> 2, (ptr >> 2) + n);
      };
      fillOrCopy(at.dh, B * P, args.dhN);
      fillOrCopy(at.dc, B * H, args.dcN);
      if (at.h0) f32().set(f.h0!, at.h0 >> 2);
      if (at.c0) f32().set(f.c0!, at.c0 >> 2);
      const desc = [
        f.batchSizes ? L.sizes : 0, L.x, at.h0, at.c0, L.acts, L.cs, L.hs, L.hfulls, at.dOut, at.dh, at.dc, at.dA,
        isGru ? at.dAh : at.dA, at.hPrev, at.dHrow, at.dhFull, at.dhStep, at.whh, at.whr, at.trans, at.pack,
        at.dWih, at.dWhh, at.dWhr, at.dbih, at.dbhh, at.dx, at.wih, at.steps,
      ];
      heap.i32.set(desc, at.desc >> 2);
      const mode = w.mode === 'lstm' ? 0 : w.mode === 'gru' ? 1 : w.mode === 'rnn_tanh' ? 2 : 3;
      kernels.layerBackward(mode, T, B, rows, I, H, P, f.reverse === true, at.desc);
      const v = f32();
      const addRows = (dst: Float32Array | null, ptr: number, nRows: number, n: number, stride: number) => {
        if (!dst) return;
        for (let r = 0; r < nRows; r++) for (let j = 0; j < n; j++) dst[r * n + j]! += v[(ptr >> 2) + r * stride + j]!;
      };
      const g = args.grads;
      addRows(g.weightIh, at.dWih, GH, I, i8);
      addRows(g.weightHh, at.dWhh, GH, P, p8);
      if (proj) addRows(g.weightHr, at.dWhr, P, H, h8);
      addRows(g.biasIh, at.dbih, 1, GH, GH);
      addRows(g.biasHh, at.dbhh, 1, GH, GH);
      if (args.dx) for (let r = 0; r < rows; r++) args.dx.set(v.subarray((at.dx >> 2) + r * i8, (at.dx >> 2) + r * i8 + I), r * I);
      if (args.dh0) args.dh0.set(v.subarray(at.dh >> 2, (at.dh >> 2) + B * P));
      if (args.dc0 && w.mode === 'lstm') args.dc0.set(v.subarray(at.dc >> 2, (at.dc >> 2) + B * H));
    } finally {
      heap.release(base);
      ws.releaseBlock();
    }
  }

  matmul(a: Float32Array, b: Float32Array, m: number, k: number, n: number, options?: MatmulOptions): Float32Array {
    const transB = options?.transB ?? false;
    checkMatmulArgs(a, b, m, k, n, transB);
    const out = outArray('matmul', options?.out, m * n);
    const { kernels, heap } = this;
    const n8 = roundUp8(n);
    const packed = align(kernels.packedSize(k, n));
    // A block for this call only: primitives keep nothing between calls.
    const pa = heap.alloc(align(a.length * 4) + align(b.length * 4) + packed + m * n8 * 4);
    try {
      const pb = pa + align(a.length * 4);
      const pp = pb + align(b.length * 4);
      const pc = pp + packed;
      heap.f32.set(a, pa >> 2);
      heap.f32.set(b, pb >> 2);
      if (transB) kernels.packB(pb, k, n, 1, k, pp);
      else kernels.packB(pb, k, n, n, 1, pp);
      const accumulate = options?.accumulate ?? false;
      const f32 = heap.f32;
      if (accumulate) for (let i = 0; i < m; i++) f32.set(out.subarray(i * n, (i + 1) * n), (pc >> 2) + i * n8);
      kernels.gemm(m, n, k, pa, k, pp, pc, n8, accumulate);
      for (let i = 0; i < m; i++) out.set(f32.subarray((pc >> 2) + i * n8, (pc >> 2) + i * n8 + n), i * n);
    } finally {
      heap.release(pa);
    }
    return out;
  }
}
