// `wasmBackend`: the Backend interface on WebAssembly SIMD kernels. Weights are packed once into wasm
// memory and stay there; each call copies activations in and results out through one reusable
// scratch block, so steady-state calls neither allocate JS objects nor grow the memory.

import {
  BACKEND_INTERFACE_VERSION,
  type Backend,
  BackendError,
  type BinaryOp,
  type LayerArgs,
  type PreparedWeights,
  type RecurrentMode,
  type RecurrentWeights,
  ShapeError,
  type UnaryOp,
  checkBroadcast,
  checkLayerArgs,
  checkMatmulArgs,
  gateCount,
  outArray,
  planPermutation,
} from '@recur/core-tensor';
import { type MemoryStats, WasmHeap } from './heap.js';
import { type KernelExports, instantiateKernels, simdUnavailableReason } from './module.js';

const UNARY_OPS: Record<UnaryOp, number> = { sigmoid: 0, tanh: 1, relu: 2, neg: 3, exp: 4 };
const BINARY_OPS: Record<BinaryOp, number> = { add: 0, sub: 1, mul: 2, div: 3 };

const roundUp8 = (n: number) => (n + 7) & ~7;
const align = (bytes: number) => Math.ceil(bytes / 64) * 64;

interface Runtime {
  kernels: KernelExports;
  heap: WasmHeap;
  /** One scratch block reused by every call (calls are synchronous). */
  scratchPtr: number;
  scratchBytes: number;
}

let runtime: Runtime | null = null;
let pending: Promise<void> | null = null;
let failure: string | null = null;

function rt(): Runtime {
  if (!runtime) throw new BackendError("wasm backend used before init(): await ready() or setBackend('wasm') first");
  return runtime;
}

/** A scratch block of at least `bytes` bytes (the same block while it is big enough). */
function scratch(bytes: number): number {
  const r = rt();
  if (r.scratchBytes < bytes) {
    const size = Math.max(bytes, Math.ceil(r.scratchBytes * 1.5));
    const ptr = r.heap.alloc(size);
    if (r.scratchBytes > 0) r.heap.release(r.scratchPtr);
    r.scratchPtr = ptr;
    r.scratchBytes = size;
  }
  return r.scratchPtr;
}

/** Frees prepared weights whose owner was garbage-collected without dispose(). */
const finalizer =
  typeof FinalizationRegistry === 'function'
    ? new FinalizationRegistry<number[]>((ptrs) => {
        if (runtime) for (const p of ptrs) runtime.heap.release(p);
      })
    : null;

class WasmPreparedWeights implements PreparedWeights {
  readonly backend = 'wasm';
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
  private ptrs: number[];

  constructor(w: RecurrentWeights) {
    const { kernels, heap } = rt();
    const G = gateCount(w.mode);
    const H = w.hiddenSize;
    const P = w.projSize > 0 ? w.projSize : H;
    const GH = G * H;
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
      const pack = (src: Float32Array, rows: number, cols: number) => {
        const dst = take(kernels.packedSize(cols, rows));
        const tmp = scratch(src.length * 4);
        heap.f32.set(src, tmp >> 2);
        kernels.packB(tmp, cols, rows, 1, cols, dst);
        return dst;
      };
      this.wih = pack(w.weightIh, GH, w.inputSize);
      this.whh = pack(w.weightHh, GH, P);
      this.whr = w.projSize > 0 && w.weightHr ? pack(w.weightHr, P, H) : 0;
      this.bias = take(this.gh8 * 4);
      this.bhn = take(Math.max(roundUp8(H), 8) * 4);
      const f32 = heap.f32;
      f32.fill(0, this.bias >> 2, (this.bias >> 2) + this.gh8);
      f32.fill(0, this.bhn >> 2, (this.bhn >> 2) + roundUp8(H));
      const summed = w.mode === 'gru' ? 2 * H : GH;
      for (let j = 0; j < GH; j++) {
        const bi = w.biasIh ? w.biasIh[j]! : 0;
        const bh = w.biasHh ? w.biasHh[j]! : 0;
        if (j < summed) f32[(this.bias >> 2) + j] = bi + bh;
        else {
          f32[(this.bias >> 2) + j] = bi;
          f32[(this.bhn >> 2) + j - summed] = bh;
        }
      }
    } catch (error) {
      for (const p of ptrs) heap.release(p);
      throw error;
    }
    this.ptrs = ptrs;
    finalizer?.register(this, ptrs, this);
  }

  dispose(): void {
    if (runtime) for (const p of this.ptrs) runtime.heap.release(p);
    this.ptrs = [];
    finalizer?.unregister(this);
  }

  get disposed(): boolean {
    return this.ptrs.length === 0;
  }
}

function prepared(args: LayerArgs, where: string, modeOk: (m: RecurrentMode) => boolean): WasmPreparedWeights {
  const w = args.weights;
  if (!(w instanceof WasmPreparedWeights)) {
    throw new ShapeError(`${where}: weights were prepared by backend '${w?.backend}', expected 'wasm'`);
  }
  if (w.disposed) throw new ShapeError(`${where}: weights were disposed`);
  if (!modeOk(w.mode)) throw new ShapeError(`${where}: weights are for mode '${w.mode}'`);
  return w;
}

const isLstm = (m: RecurrentMode) => m === 'lstm';
const isGru = (m: RecurrentMode) => m === 'gru';
const isRnn = (m: RecurrentMode) => m === 'rnn_tanh' || m === 'rnn_relu';

/** Byte offsets of one call's buffers inside the scratch block. */
const layout = { x: 0, gx: 0, out: 0, h: 0, c: 0, hfull: 0, ptmp: 0, sizes: 0, gates: 0 };

function setUpLayer(args: LayerArgs, w: WasmPreparedWeights, rows: number): void {
  const B = args.batch;
  const H = w.hiddenSize;
  const P = w.outputSize;
  // Sizes first, then one scratch block; written out long-hand since this runs once per streamed frame.
  const x = align(rows * w.inputSize * 4);
  const gx = align(rows * w.gh8 * 4);
  const out = align(rows * P * 4);
  const h = align(B * P * 4);
  const c = align(B * H * 4);
  const hfull = align(B * H * 4);
  const ptmp = align(B * roundUp8(P) * 4);
  const sizes = align(args.seqLen * 4);
  const gates = align(B * w.gh8 * 4);
  layout.x = scratch(x + gx + out + h + c + hfull + ptmp + sizes + gates);
  layout.gx = layout.x + x;
  layout.out = layout.gx + gx;
  layout.h = layout.out + out;
  layout.c = layout.h + h;
  layout.hfull = layout.c + c;
  layout.ptmp = layout.hfull + hfull;
  layout.sizes = layout.ptmp + ptmp;
  layout.gates = layout.sizes + sizes;
  const { heap } = rt();
  const f32 = heap.f32;
  f32.set(args.x, layout.x >> 2);
  if (args.h0) f32.set(args.h0, layout.h >> 2);
  else f32.fill(0, layout.h >> 2, (layout.h >> 2) + B * P);
  if (w.mode === 'lstm') {
    if (args.c0) f32.set(args.c0, layout.c >> 2);
    else f32.fill(0, layout.c >> 2, (layout.c >> 2) + B * H);
  }
  if (args.batchSizes) heap.i32.set(args.batchSizes, layout.sizes >> 2);
}

function copyOut(args: LayerArgs, w: WasmPreparedWeights, rows: number): void {
  const f32 = rt().heap.f32;
  const P = w.outputSize;
  const { out, outStride, outOffset, hN } = args;
  for (let r = 0, src = layout.out >> 2; r < rows; r++) {
    const o = r * outStride + outOffset;
    for (let j = 0; j < P; j++, src++) out[o + j] = f32[src]!;
  }
  for (let i = 0, src = layout.h >> 2; i < hN.length; i++, src++) hN[i] = f32[src]!;
  const cN = args.cN;
  if (w.mode === 'lstm' && cN) for (let i = 0, src = layout.c >> 2; i < cN.length; i++, src++) cN[i] = f32[src]!;
}

function lstmLayer(args: LayerArgs): void {
  const w = prepared(args, 'lstmLayer', isLstm);
  const rows = checkLayerArgs(args, 'lstmLayer');
  setUpLayer(args, w, rows);
  rt().kernels.lstmLayer(
    args.seqLen, args.batch, rows, w.inputSize, w.hiddenSize, w.outputSize,
    layout.x, w.wih, w.whh, w.bias, w.whr,
    args.batchSizes ? layout.sizes : 0, args.reverse === true,
    layout.h, layout.c, layout.out, layout.gx, layout.hfull, layout.ptmp,
  );
  copyOut(args, w, rows);
}

function gruLayer(args: LayerArgs): void {
  const w = prepared(args, 'gruLayer', isGru);
  const rows = checkLayerArgs(args, 'gruLayer');
  setUpLayer(args, w, rows);
  rt().kernels.gruLayer(
    args.seqLen, args.batch, rows, w.inputSize, w.hiddenSize,
    layout.x, w.wih, w.whh, w.bias, w.bhn,
    args.batchSizes ? layout.sizes : 0, args.reverse === true,
    layout.h, layout.out, layout.gx, layout.gates,
  );
  copyOut(args, w, rows);
}

function rnnLayer(args: LayerArgs): void {
  const w = prepared(args, 'rnnLayer', isRnn);
  const rows = checkLayerArgs(args, 'rnnLayer');
  setUpLayer(args, w, rows);
  rt().kernels.rnnLayer(
    args.seqLen, args.batch, rows, w.inputSize, w.hiddenSize,
    layout.x, w.wih, w.whh, w.bias, w.mode === 'rnn_relu',
    args.batchSizes ? layout.sizes : 0, args.reverse === true,
    layout.h, layout.out, layout.gx,
  );
  copyOut(args, w, rows);
}

const matmul: Backend['matmul'] = (a, b, m, k, n, options) => {
  const transB = options?.transB ?? false;
  checkMatmulArgs(a, b, m, k, n, transB);
  const out = outArray('matmul', options?.out, m * n);
  const { kernels, heap } = rt();
  const n8 = roundUp8(n);
  const packed = align(kernels.packedSize(k, n));
  const base = scratch(align(a.length * 4) + align(b.length * 4) + packed + m * n8 * 4);
  const pa = base;
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
  return out;
};

const unary: Backend['unary'] = (op, x, out) => {
  const code = UNARY_OPS[op];
  if (code === undefined) {
    throw new ShapeError(`unary: unknown op '${String(op)}', expected one of ${Object.keys(UNARY_OPS).join(', ')}`);
  }
  const y = outArray('unary', out, x.length);
  const { kernels, heap } = rt();
  const p = scratch(align(x.length * 4));
  heap.f32.set(x, p >> 2);
  kernels.unary(code, p, p, x.length);
  y.set(heap.f32.subarray(p >> 2, (p >> 2) + x.length));
  return y;
};

const binary: Backend['binary'] = (op, a, b, out) => {
  const code = BINARY_OPS[op];
  if (code === undefined) throw new ShapeError(`binary: unknown op '${String(op)}', expected add, sub, mul or div`);
  checkBroadcast(op, a, b);
  const n = a.length;
  const m = b.length;
  const y = outArray(`binary(${op})`, out, n);
  const { kernels, heap } = rt();
  const pa = scratch(align(n * 4) + align(m * 4));
  const pb = pa + align(n * 4);
  heap.f32.set(a, pa >> 2);
  heap.f32.set(b, pb >> 2);
  kernels.binary(code, pa, pb, pa, n, m);
  y.set(heap.f32.subarray(pa >> 2, (pa >> 2) + n));
  return y;
};

const transpose: Backend['transpose'] = (x, shape, perm, out) => {
  const { size, outShape, inStrides } = planPermutation(x, shape, perm);
  const rank = shape.length;
  const y = outArray('transpose', out, size);
  const { kernels, heap } = rt();
  const px = scratch(align(size * 4) * 2 + 3 * align(rank * 4));
  const py = px + align(size * 4);
  const pShape = py + align(size * 4);
  const pStrides = pShape + align(rank * 4);
  const pIdx = pStrides + align(rank * 4);
  heap.f32.set(x, px >> 2);
  heap.i32.set(outShape, pShape >> 2);
  heap.i32.set(inStrides, pStrides >> 2);
  kernels.transpose(px, py, size, rank, pShape, pStrides, pIdx);
  y.set(heap.f32.subarray(py >> 2, (py >> 2) + size));
  return y;
};

async function init(): Promise<void> {
  if (runtime) return;
  pending ??= (async () => {
    const reason = simdUnavailableReason();
    if (reason) throw new BackendError(`wasm: ${reason}`);
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 65536 });
    const kernels = await instantiateKernels(memory);
    runtime = { kernels, heap: new WasmHeap(memory), scratchPtr: 0, scratchBytes: 0 };
  })().catch((error: unknown) => {
    failure = error instanceof Error ? error.message : String(error);
    pending = null;
    throw error;
  });
  return pending;
}

/** The wasm backend, with a view of its memory for diagnostics. */
export interface WasmBackend extends Backend {
  /** Size and live allocations of the wasm memory (all zeros before init). */
  memoryStats(): MemoryStats;
}

/**
 * WebAssembly SIMD kernels (priority 10: `ready()` picks it over `js` wherever SIMD is available).
 * @example
 * import { registerBackend, ready } from '@recur/core-tensor';
 * import { wasmBackend } from '@recur/kernels-wasm';
 * registerBackend(wasmBackend);
 * await ready(); // 'wasm', or 'js' with the reason in backendStatus()
 */
export const wasmBackend: WasmBackend = {
  name: 'wasm',
  priority: 10,
  interfaceVersion: BACKEND_INTERFACE_VERSION,
  init,
  unavailableReason: () => failure ?? (runtime ? null : simdUnavailableReason()),
  memoryStats: () => (runtime ? runtime.heap.stats() : { bytes: 0, allocated: 0, blocks: 0 }),
  matmul,
  unary,
  binary,
  transpose,
  prepareWeights: (w: RecurrentWeights) => new WasmPreparedWeights(w),
  rnnLayer,
  lstmLayer,
  gruLayer,
};
