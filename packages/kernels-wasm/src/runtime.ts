// One instantiated set of kernels with its own memory: the allocator, a reusable scratch block, the
// prepared weights it owns, and the JS side of every kernel call (copy activations in, run, copy out).
// Steady-state calls allocate no JS objects and do not grow the memory.

import {
  type BinaryOp,
  type LayerArgs,
  type MatmulOptions,
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
import { WasmHeap } from './heap.js';
import type { KernelExports } from './module.js';

const UNARY_OPS: Record<UnaryOp, number> = { sigmoid: 0, tanh: 1, relu: 2, neg: 3, exp: 4 };
const BINARY_OPS: Record<BinaryOp, number> = { add: 0, sub: 1, mul: 2, div: 3 };

const roundUp8 = (n: number) => (n + 7) & ~7;
const align = (bytes: number) => Math.ceil(bytes / 64) * 64;

// Module-level predicates: a closure per call would allocate on every streamed frame.
const isLstm = (m: RecurrentMode) => m === 'lstm';
const isGru = (m: RecurrentMode) => m === 'gru';
const isRnn = (m: RecurrentMode) => m === 'rnn_tanh' || m === 'rnn_relu';

/** Frees prepared weights whose owner was garbage-collected without dispose(). */
const finalizer =
  typeof FinalizationRegistry === 'function'
    ? new FinalizationRegistry<{ heap: WasmHeap; ptrs: number[] }>(({ heap, ptrs }) => {
        for (const p of ptrs) heap.release(p);
      })
    : null;

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
  private ptrs: number[];

  constructor(
    readonly runtime: WasmRuntime,
    readonly backend: string,
    w: RecurrentWeights,
  ) {
    const { kernels, heap } = runtime;
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
      // B = W^T straight from PyTorch's [rows, cols] layout.
      const pack = (src: Float32Array, rows: number, cols: number) => {
        const dst = take(kernels.packedSize(cols, rows));
        const tmp = runtime.scratch(src.length * 4);
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
    finalizer?.register(this, { heap, ptrs }, this);
  }

  dispose(): void {
    for (const p of this.ptrs) this.runtime.heap.release(p);
    this.ptrs = [];
    finalizer?.unregister(this);
  }

  get disposed(): boolean {
    return this.ptrs.length === 0;
  }
}

/** Outputs of at least this many floats are copied out of wasm memory with one `set`. */
const BULK_COPY = 4096;

export class WasmRuntime {
  readonly heap: WasmHeap;
  /** One scratch block reused by every call (calls are synchronous). */
  private scratchPtr = 0;
  private scratchBytes = 0;
  /** Byte offsets of the current layer call's buffers inside the scratch block. */
  private readonly layout = { x: 0, gx: 0, out: 0, h: 0, c: 0, hfull: 0, ptmp: 0, sizes: 0, gates: 0 };
  /** Input rows of the current layer call, as `checkLayerArgs` counted them. */
  private rows = 0;

  constructor(
    readonly kernels: KernelExports,
    memory: WebAssembly.Memory,
    readonly backendName: string,
  ) {
    this.heap = new WasmHeap(memory);
  }

  /** A scratch block of at least `bytes` bytes (the same block while it is big enough). */
  scratch(bytes: number): number {
    if (this.scratchBytes < bytes) {
      const size = Math.max(bytes, Math.ceil(this.scratchBytes * 1.5));
      const ptr = this.heap.alloc(size);
      if (this.scratchBytes > 0) this.heap.release(this.scratchPtr);
      this.scratchPtr = ptr;
      this.scratchBytes = size;
    }
    return this.scratchPtr;
  }

  prepare(w: RecurrentWeights): WasmPreparedWeights {
    return new WasmPreparedWeights(this, this.backendName, w);
  }

  private weightsOf(args: LayerArgs, where: string, modeOk: (m: RecurrentMode) => boolean): WasmPreparedWeights {
    const w = args.weights;
    if (!(w instanceof WasmPreparedWeights) || w.runtime !== this) {
      throw new ShapeError(`${where}: weights were prepared by backend '${w?.backend}', expected '${this.backendName}'`);
    }
    if (w.disposed) throw new ShapeError(`${where}: weights were disposed`);
    if (!modeOk(w.mode)) throw new ShapeError(`${where}: weights are for mode '${w.mode}'`);
    return w;
  }

  /**
   * Validates one layer call, lays out its buffers in the scratch block and copies the inputs in.
   * Returns the weights, known to be this runtime's; the call's row count is left in `rows`.
   */
  private setUpLayer(args: LayerArgs, where: string, modeOk: (m: RecurrentMode) => boolean): WasmPreparedWeights {
    const w = this.weightsOf(args, where, modeOk);
    const rows = checkLayerArgs(args, where);
    this.rows = rows;
    const B = args.batch;
    const H = w.hiddenSize;
    const P = w.outputSize;
    const L = this.layout;
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
    L.x = this.scratch(x + gx + out + h + c + hfull + ptmp + sizes + gates);
    L.gx = L.x + x;
    L.out = L.gx + gx;
    L.h = L.out + out;
    L.c = L.h + h;
    L.hfull = L.c + c;
    L.ptmp = L.hfull + hfull;
    L.sizes = L.ptmp + ptmp;
    L.gates = L.sizes + sizes;
    const f32 = this.heap.f32;
    f32.set(args.x, L.x >> 2);
    if (args.h0) f32.set(args.h0, L.h >> 2);
    else f32.fill(0, L.h >> 2, (L.h >> 2) + B * P);
    if (w.mode === 'lstm') {
      if (args.c0) f32.set(args.c0, L.c >> 2);
      else f32.fill(0, L.c >> 2, (L.c >> 2) + B * H);
    }
    if (args.batchSizes) this.heap.i32.set(args.batchSizes, L.sizes >> 2);
    return w;
  }

  private copyOut(args: LayerArgs, w: WasmPreparedWeights): void {
    const rows = this.rows;
    const f32 = this.heap.f32;
    const P = w.outputSize;
    const L = this.layout;
    const { out, outStride, outOffset, hN } = args;
    if (outStride === P && rows * P >= BULK_COPY) {
      // One memcpy for a contiguous output; the view it needs is one small allocation, so streamed
      // frames (a row at a time, allocation-free) keep the loop below.
      out.set(f32.subarray(L.out >> 2, (L.out >> 2) + rows * P), outOffset);
    } else {
      for (let r = 0, src = L.out >> 2; r < rows; r++) {
        const o = r * outStride + outOffset;
        for (let j = 0; j < P; j++, src++) out[o + j] = f32[src]!;
      }
    }
    for (let i = 0, src = L.h >> 2; i < hN.length; i++, src++) hN[i] = f32[src]!;
    const cN = args.cN;
    if (w.mode === 'lstm' && cN) for (let i = 0, src = L.c >> 2; i < cN.length; i++, src++) cN[i] = f32[src]!;
  }

  lstmLayer(args: LayerArgs): void {
    const w = this.setUpLayer(args, 'lstmLayer', isLstm);
    const L = this.layout;
    this.kernels.lstmLayer(
      args.seqLen, args.batch, this.rows, w.inputSize, w.hiddenSize, w.outputSize,
      L.x, w.wih, w.whh, w.bias, w.whr,
      args.batchSizes ? L.sizes : 0, args.reverse === true,
      L.h, L.c, L.out, L.gx, L.hfull, L.ptmp,
    );
    this.copyOut(args, w);
  }

  gruLayer(args: LayerArgs): void {
    const w = this.setUpLayer(args, 'gruLayer', isGru);
    const L = this.layout;
    this.kernels.gruLayer(
      args.seqLen, args.batch, this.rows, w.inputSize, w.hiddenSize,
      L.x, w.wih, w.whh, w.bias, w.bhn,
      args.batchSizes ? L.sizes : 0, args.reverse === true,
      L.h, L.out, L.gx, L.gates,
    );
    this.copyOut(args, w);
  }

  rnnLayer(args: LayerArgs): void {
    const w = this.setUpLayer(args, 'rnnLayer', isRnn);
    const L = this.layout;
    this.kernels.rnnLayer(
      args.seqLen, args.batch, this.rows, w.inputSize, w.hiddenSize,
      L.x, w.wih, w.whh, w.bias, w.mode === 'rnn_relu',
      args.batchSizes ? L.sizes : 0, args.reverse === true,
      L.h, L.out, L.gx,
    );
    this.copyOut(args, w);
  }

  matmul(a: Float32Array, b: Float32Array, m: number, k: number, n: number, options?: MatmulOptions): Float32Array {
    const transB = options?.transB ?? false;
    checkMatmulArgs(a, b, m, k, n, transB);
    const out = outArray('matmul', options?.out, m * n);
    const { kernels, heap } = this;
    const n8 = roundUp8(n);
    const packed = align(kernels.packedSize(k, n));
    const pa = this.scratch(align(a.length * 4) + align(b.length * 4) + packed + m * n8 * 4);
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
  }

  unary(op: UnaryOp, x: Float32Array, out?: Float32Array): Float32Array {
    const code = UNARY_OPS[op];
    if (code === undefined) {
      throw new ShapeError(`unary: unknown op '${String(op)}', expected one of ${Object.keys(UNARY_OPS).join(', ')}`);
    }
    const y = outArray('unary', out, x.length);
    const p = this.scratch(align(x.length * 4));
    this.heap.f32.set(x, p >> 2);
    this.kernels.unary(code, p, p, x.length);
    y.set(this.heap.f32.subarray(p >> 2, (p >> 2) + x.length));
    return y;
  }

  binary(op: BinaryOp, a: Float32Array, b: Float32Array, out?: Float32Array): Float32Array {
    const code = BINARY_OPS[op];
    if (code === undefined) throw new ShapeError(`binary: unknown op '${String(op)}', expected add, sub, mul or div`);
    checkBroadcast(op, a, b);
    const n = a.length;
    const m = b.length;
    const y = outArray(`binary(${op})`, out, n);
    const pa = this.scratch(align(n * 4) + align(m * 4));
    const pb = pa + align(n * 4);
    this.heap.f32.set(a, pa >> 2);
    this.heap.f32.set(b, pb >> 2);
    this.kernels.binary(code, pa, pb, pa, n, m);
    y.set(this.heap.f32.subarray(pa >> 2, (pa >> 2) + n));
    return y;
  }

  transpose(x: Float32Array, shape: readonly number[], perm: readonly number[], out?: Float32Array): Float32Array {
    const { size, outShape, inStrides } = planPermutation(x, shape, perm);
    const rank = shape.length;
    const y = outArray('transpose', out, size);
    const px = this.scratch(align(size * 4) * 2 + 3 * align(rank * 4));
    const py = px + align(size * 4);
    const pShape = py + align(size * 4);
    const pStrides = pShape + align(rank * 4);
    const pIdx = pStrides + align(rank * 4);
    this.heap.f32.set(x, px >> 2);
    this.heap.i32.set(outShape, pShape >> 2);
    this.heap.i32.set(inStrides, pStrides >> 2);
    this.kernels.transpose(px, py, size, rank, pShape, pStrides, pIdx);
    y.set(this.heap.f32.subarray(py >> 2, (py >> 2) + size));
    return y;
  }
}
