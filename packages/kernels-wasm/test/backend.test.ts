// What is particular to the wasm backend: its memory (allocator, growth limits, no leaks across calls)
// and its fallback when WebAssembly SIMD or compilation is unavailable. The kernels themselves run the
// shared conformance suite (conformance.test.ts).

import { paddedLayerArgs, randomWeights } from '@recur/conformance';
import {
  BackendError,
  Generator,
  backendStatus,
  listBackends,
  ready,
  registerBackend,
  unregisterBackend,
} from '@recur/core-tensor';
import { jsBackend } from '@recur/kernels-js';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { WasmHeap } from '../src/heap.js';
import { createWasmBackend, wasmBackend } from '../src/index.js';

beforeAll(async () => {
  await wasmBackend.init();
});

afterEach(() => {
  vi.restoreAllMocks();
  for (const name of listBackends()) unregisterBackend(name);
});

describe('WasmHeap', () => {
  it('reuses freed blocks and coalesces them', () => {
    const heap = new WasmHeap(new WebAssembly.Memory({ initial: 2 }));
    const a = heap.alloc(100);
    const b = heap.alloc(100);
    const c = heap.alloc(100);
    expect(a % 64).toBe(0);
    expect(new Set([a, b, c]).size).toBe(3);
    heap.release(b);
    expect(heap.alloc(64)).toBe(b);
    heap.release(a);
    heap.release(b);
    heap.release(c);
    expect(heap.stats()).toMatchObject({ allocated: 0, blocks: 0 });
    expect(heap.alloc(300)).toBe(a);
  });

  it('grows the memory and refreshes its views', () => {
    const memory = new WebAssembly.Memory({ initial: 2 });
    const heap = new WasmHeap(memory);
    const before = heap.f32;
    const p = heap.alloc(1 << 20);
    expect(memory.buffer.byteLength).toBeGreaterThanOrEqual(p + (1 << 20));
    expect(heap.f32 === before).toBe(false);
    expect(heap.f32.buffer).toBe(memory.buffer);
  });

  it('a growth failure is a BackendError naming the size, and the heap stays usable', () => {
    const heap = new WasmHeap(new WebAssembly.Memory({ initial: 2, maximum: 3 }));
    expect(() => heap.alloc(200_000)).toThrow(BackendError);
    expect(() => heap.alloc(200_000)).toThrow(/cannot allocate 200000 bytes: growing the memory from 131072/);
    expect(() => heap.alloc(5e9)).toThrow(/cannot allocate 5000000000 bytes: .*past the 4 GiB wasm32 limit/);
    const p = heap.alloc(1000);
    heap.f32[p >> 2] = 1.5;
    expect(heap.f32[p >> 2]).toBe(1.5);
  });
});

describe('wasm memory across calls', () => {
  it('prepared weights are freed by dispose()', () => {
    const weights = randomWeights(new Generator(1), 'lstm', 64, 128, 32);
    const start = wasmBackend.memoryStats();
    const w = wasmBackend.prepareWeights(weights);
    expect(wasmBackend.memoryStats().allocated).toBeGreaterThan(start.allocated);
    w.dispose();
    w.dispose();
    expect(wasmBackend.memoryStats().allocated).toBe(start.allocated);
  });

  it('10,000 layer calls keep the memory flat', () => {
    const weights = randomWeights(new Generator(2), 'lstm', 32, 64);
    const w = wasmBackend.prepareWeights(weights);
    const T = 10;
    const B = 4;
    const args = paddedLayerArgs(weights, w, new Float32Array(T * B * 32).fill(0.1), T, B);
    const ws = wasmBackend.createWorkspace();
    for (let i = 0; i < 100; i++) wasmBackend.layer(args, ws);
    const before = wasmBackend.memoryStats();
    for (let i = 0; i < 10_000; i++) wasmBackend.layer(args, ws);
    expect(wasmBackend.memoryStats()).toEqual(before);
    w.dispose();
    ws.dispose();
  });

  it('a workspace holds its scratch until dispose(), and matmul keeps nothing', () => {
    const start = wasmBackend.memoryStats().allocated;
    wasmBackend.matmul(new Float32Array(256 * 256), new Float32Array(256 * 256), 256, 256, 256);
    expect(wasmBackend.memoryStats().allocated).toBe(start);
    const w = wasmBackend.prepareWeights(randomWeights(new Generator(4), 'gru', 64, 256));
    const withWeights = wasmBackend.memoryStats().allocated;
    const ws = wasmBackend.createWorkspace();
    const [T, B] = [50, 8];
    wasmBackend.layer(
      {
        weights: w,
        x: new Float32Array(T * B * 64),
        seqLen: T,
        batch: B,
        h0: null,
        out: new Float32Array(T * B * 256),
        outOffset: 0,
        outStride: 256,
        hN: new Float32Array(B * 256),
      },
      ws,
    );
    // The call's x, projections and outputs: at least 4 * T * B * (64 + 3 * 256 + 256) bytes.
    expect(wasmBackend.memoryStats().allocated - withWeights).toBeGreaterThanOrEqual(4 * T * B * (64 + 4 * 256));
    ws.dispose();
    expect(wasmBackend.memoryStats().allocated).toBe(withWeights);
    w.dispose();
    expect(wasmBackend.memoryStats().allocated).toBe(start);
  });

  it('rejects weights and workspaces of another wasm instance', async () => {
    const other = createWasmBackend({ name: 'wasm' });
    await other.init();
    const weights = randomWeights(new Generator(3), 'gru', 2, 3);
    const args = {
      weights: other.prepareWeights(weights),
      x: new Float32Array(2),
      seqLen: 1,
      batch: 1,
      h0: null,
      out: new Float32Array(3),
      outOffset: 0,
      outStride: 3,
      hN: new Float32Array(3),
    };
    const ws = wasmBackend.createWorkspace();
    expect(() => wasmBackend.layer(args, ws)).toThrow(BackendError);
    expect(() => wasmBackend.layer(args, ws)).toThrow(/belong to another instance of the 'wasm' backend/);
    expect(() => wasmBackend.layer({ ...args, weights: wasmBackend.prepareWeights(weights) }, other.createWorkspace())).toThrow(
      /another instance/,
    );
    ws.dispose();
  });
});

describe('fallback', () => {
  async function freshWasm() {
    vi.resetModules();
    return (await import('../src/index.js')).wasmBackend;
  }

  it('ready() falls back to js without SIMD and keeps the reason', async () => {
    vi.spyOn(WebAssembly, 'validate').mockReturnValue(false);
    const fresh = await freshWasm();
    registerBackend(fresh);
    registerBackend(jsBackend);
    expect(await ready()).toBe('js');
    const status = backendStatus().find((s) => s.name === 'wasm');
    expect(status?.state).toBe('failed');
    expect(String(status?.error)).toMatch(/WebAssembly SIMD \(128-bit\) is not supported/);
    expect(fresh.unavailableReason?.()).toMatch(/SIMD/);
  });

  it('ready() falls back to js when compilation fails', async () => {
    vi.spyOn(WebAssembly, 'compile').mockRejectedValue(new Error('CompileError: boom'));
    const fresh = await freshWasm();
    registerBackend(fresh);
    registerBackend(jsBackend);
    expect(await ready()).toBe('js');
    expect(fresh.unavailableReason?.()).toBe('CompileError: boom');
  });
});
