// wasm memory that never returns (issue 17, class 9). A WebAssembly memory cannot shrink, so the
// design is reuse: weights and scratch go back to the allocator on dispose() (or garbage collection),
// the memory grows by little more than the live need, memoryStats() shows free versus used, and
// reset() drops the whole heap, after which whatever pointed into it is refused with a BackendError.

import v8 from 'node:v8';
import vm from 'node:vm';
import { paddedLayerArgs, randomWeights } from '@recur/conformance';
import { BackendError, Generator, type LayerArgs, type RecurrentWeights } from '@recur/core-tensor';
import { jsBackend } from '@recur/kernels-js';
import { afterEach, describe, expect, it } from 'vitest';
import { WasmHeap } from '../src/heap.js';
import { type MemoryStats, type WasmBackend, createWasmBackend } from '../src/index.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const MiB = 1 << 20;
/** The first page belongs to the kernels' statics. */
const RESERVED = 65536;

const nextTask = () => new Promise((resolve) => setTimeout(resolve, 5));

/**
 * Collects garbage until `done()` holds, or gives up after 20 rounds. Finalizers run between tasks,
 * and a WeakRef read in `done()` keeps its target until its task ends: collect in a task of its own.
 */
async function collectUntil(done: () => boolean): Promise<void> {
  for (let i = 0; i < 20; i++) {
    await nextTask();
    gc();
    await nextTask();
    if (done()) return;
  }
}

function expectAccounted(s: MemoryStats): void {
  expect(RESERVED + s.allocated + s.free + s.top).toBe(s.bytes);
}

/** Arguments of one padded layer call on `weights`, every input 0.25. */
function layerArgs(w: RecurrentWeights, prepared: LayerArgs['weights'], T: number, B: number): LayerArgs {
  return paddedLayerArgs(w, prepared, new Float32Array(T * B * w.inputSize).fill(0.25), T, B);
}

const fresh: WasmBackend[] = [];
async function freshBackend(): Promise<WasmBackend> {
  const b = createWasmBackend({ name: 'wasm' });
  await b.init();
  fresh.push(b);
  return b;
}

afterEach(async () => {
  // Each test's backend gives its memory back.
  for (const b of fresh.splice(0)) await b.reset();
});

describe('memoryStats() shows free versus used', () => {
  it('accounts for every byte: reserved + allocated + free + top = bytes', () => {
    const heap = new WasmHeap(new WebAssembly.Memory({ initial: 2 }));
    expect(heap.stats()).toEqual({ bytes: 131072, allocated: 0, blocks: 0, free: 0, freeBlocks: 0, top: 65536 });
    const a = heap.alloc(1000);
    const b = heap.alloc(5000);
    const c = heap.alloc(100);
    expectAccounted(heap.stats());
    heap.release(b);
    // b is a hole between live blocks: free, not top.
    expect(heap.stats()).toMatchObject({ allocated: 1024 + 128, blocks: 2, free: 5056, freeBlocks: 1 });
    expectAccounted(heap.stats());
    heap.release(c);
    // c and the hole before it coalesce and return to the top.
    expect(heap.stats()).toMatchObject({ allocated: 1024, free: 0, freeBlocks: 0, top: 131072 - RESERVED - 1024 });
    heap.release(a);
    expect(heap.stats()).toEqual({ bytes: 131072, allocated: 0, blocks: 0, free: 0, freeBlocks: 0, top: 65536 });
  });

  it('is all zeros before init, with the same fields', () => {
    expect(createWasmBackend().memoryStats()).toEqual({ bytes: 0, allocated: 0, blocks: 0, free: 0, freeBlocks: 0, top: 0 });
  });
});

describe('the memory grows by little more than the live need', () => {
  it('a small allocation after a large one grows by at most 16 MiB of slack, not half the memory', () => {
    const heap = new WasmHeap(new WebAssembly.Memory({ initial: 2, maximum: 65536 }));
    heap.alloc(200 * MiB);
    heap.alloc(MiB);
    const s = heap.stats();
    expect(s.bytes).toBeLessThanOrEqual(RESERVED + 201 * MiB + 16 * MiB + 65536);
    expectAccounted(s);
  });

  it('a workspace that grows releases its old block first, so the memory holds the new one, not both', async () => {
    const wasm = await freshBackend();
    const w = randomWeights(new Generator(1), 'rnn_tanh', 256, 256);
    const prepared = wasm.prepareWeights(w);
    const ws = wasm.createWorkspace();
    wasm.layer(layerArgs(w, prepared, 4000, 2), ws);
    const small = wasm.memoryStats().allocated;
    wasm.layer(layerArgs(w, prepared, 12000, 2), ws);
    const s = wasm.memoryStats();
    // The scratch tripled: the memory holds the weights and the new scratch plus bounded slack.
    expect(s.allocated).toBeGreaterThan(2.5 * small);
    expect(s.bytes).toBeLessThanOrEqual(RESERVED + s.allocated + 16 * MiB + 65536);
    expectAccounted(s);
    prepared.dispose();
    ws.dispose();
    expect(wasm.memoryStats()).toMatchObject({ allocated: 0, blocks: 0, free: 0 });
  });
});

describe('a hiddenSize 8192 model', () => {
  it('is packed without a second copy, runs, and gives every byte back on dispose', async () => {
    const wasm = await freshBackend();
    const start = wasm.memoryStats();
    // An RNN of hiddenSize 8192: weight_hh is 8192 x 8192 (256 MiB of float32).
    const H = 8192;
    const w: RecurrentWeights = {
      mode: 'rnn_tanh',
      inputSize: 16,
      hiddenSize: H,
      projSize: 0,
      weightIh: new Float32Array(H * 16).fill(1 / 16),
      weightHh: new Float32Array(H * H),
      biasIh: null,
      biasHh: new Float32Array(H).fill(0.5),
      weightHr: null,
    };
    for (let i = 0; i < H; i++) w.weightHh[i * H + i] = 0.5;
    const prepared = wasm.prepareWeights(w);
    const packed = wasm.memoryStats();
    // Packing stages W a few rows at a time: the memory holds the packed weights, not a second copy.
    expect(packed.allocated).toBeGreaterThanOrEqual(H * H * 4);
    expect(packed.bytes).toBeLessThan(packed.allocated + 32 * MiB);
    const inference = wasm.createWorkspace();
    const training = wasm.createWorkspace({ training: true });
    const args = layerArgs(w, prepared, 3, 2);
    wasm.layer(args, inference);
    // h1 = tanh(0.25 + 0.5), h2 = tanh(0.75 + 0.5 h1), ...: the diagonal recurrence, row by row.
    let h = 0;
    for (let t = 0; t < 3; t++) {
      h = Math.tanh(0.75 + 0.5 * h);
      expect(args.out[t * 2 * H + 1234]).toBeCloseTo(h, 5);
    }
    wasm.layer(layerArgs(w, prepared, 3, 2), training);
    const running = wasm.memoryStats();
    expect(running.allocated).toBeGreaterThan(packed.allocated);
    expectAccounted(running);
    prepared.dispose();
    inference.dispose();
    training.dispose();
    const after = wasm.memoryStats();
    expect(after.allocated).toBe(start.allocated);
    expect(after.blocks).toBe(start.blocks);
    // Everything given back is free for the next model (at the top, in one piece).
    expect(after.free + after.top).toBe(after.bytes - RESERVED);
    expect(after.freeBlocks).toBe(0);
    await wasm.reset();
    expect(wasm.memoryStats().bytes).toBe(131072);
  }, 60_000);
});

describe('packing in stages gives the same weights', () => {
  // W goes through staging 1 MiB at a time (at least 8 rows): several stages, the last one partial.
  it.each([
    ['lstm', 3000, 24, 0.01],
    ['gru', 40000, 20, 0.002],
    ['rnn_relu', 16, 1000, 0.02],
  ] as const)('%s with inputSize %i and hiddenSize %i matches the js backend', async (mode, I, H, scale) => {
    const wasm = await freshBackend();
    const w = randomWeights(new Generator(7), mode, I, H, 0, true, scale);
    const T = 3;
    const B = 2;
    const x = new Float32Array(T * B * I).map((_, i) => Math.sin(i));
    const run = (backend: typeof jsBackend | WasmBackend) => {
      const prepared = backend.prepareWeights(w);
      const ws = backend.createWorkspace();
      const args = { ...layerArgs(w, prepared, T, B), x };
      backend.layer(args, ws);
      prepared.dispose();
      ws.dispose();
      return args.out;
    };
    const expected = run(jsBackend);
    const got = run(wasm);
    for (let i = 0; i < expected.length; i++) expect(got[i]).toBeCloseTo(expected[i]!, 4);
  });
});

describe('weights and workspaces left to garbage collection', () => {
  it('are released by their finalizers', async () => {
    const wasm = await freshBackend();
    const start = wasm.memoryStats().allocated;
    const churn = () => {
      for (let i = 0; i < 50; i++) {
        const w = randomWeights(new Generator(i), 'lstm', 32, 64);
        const prepared = wasm.prepareWeights(w);
        wasm.layer(layerArgs(w, prepared, 5, 2), wasm.createWorkspace({ training: i % 2 === 0 }));
      }
    };
    churn();
    const held = wasm.memoryStats();
    expect(held.allocated).toBeGreaterThan(start + 50 * 4 * 64 * 96 * 4);
    await collectUntil(() => wasm.memoryStats().allocated === start);
    expect(wasm.memoryStats().allocated).toBe(start);
    // The space is reused: churning again does not grow the memory.
    churn();
    await collectUntil(() => wasm.memoryStats().allocated === start);
    expect(wasm.memoryStats().bytes).toBe(held.bytes);
  });
});

describe('reset() drops the whole heap', () => {
  it('gives the memory back and leaves an empty heap that works', async () => {
    const wasm = await freshBackend();
    const w = randomWeights(new Generator(3), 'gru', 64, 512);
    const prepared = wasm.prepareWeights(w);
    const ws = wasm.createWorkspace();
    const before = layerArgs(w, prepared, 200, 4);
    wasm.layer(before, ws);
    expect(wasm.memoryStats().bytes).toBeGreaterThan(8 * MiB);
    await wasm.reset();
    expect(wasm.memoryStats()).toEqual({ bytes: 131072, allocated: 0, blocks: 0, free: 0, freeBlocks: 0, top: 65536 });
    const again = wasm.prepareWeights(w);
    const ws2 = wasm.createWorkspace();
    const after = layerArgs(w, again, 200, 4);
    wasm.layer(after, ws2);
    expect(Buffer.compare(Buffer.from(after.out.buffer), Buffer.from(before.out.buffer))).toBe(0);
    again.dispose();
    ws2.dispose();
    expect(wasm.memoryStats().allocated).toBe(0);
  });

  it('weights and workspaces made before are disposed, and kernels given them throw a BackendError', async () => {
    const wasm = await freshBackend();
    const w = randomWeights(new Generator(4), 'lstm', 8, 16);
    const old = wasm.prepareWeights(w);
    const oldWs = wasm.createWorkspace({ training: true });
    const oldArgs = layerArgs(w, old, 2, 1);
    wasm.layer(oldArgs, oldWs);
    await wasm.reset();
    expect(old.disposed).toBe(true);
    expect(oldWs.disposed).toBe(true);
    const ws = wasm.createWorkspace({ training: true });
    const message = /^wasm\.layer: the weights or workspace were made before wasm\.reset\(\) dropped the heap they lived in; prepare the weights and create the workspace again/;
    expect(() => wasm.layer(layerArgs(w, old, 2, 1), ws)).toThrow(BackendError);
    expect(() => wasm.layer(layerArgs(w, old, 2, 1), ws)).toThrow(message);
    const fresh = wasm.prepareWeights(w);
    expect(() => wasm.layer(layerArgs(w, fresh, 2, 1), oldWs)).toThrow(message);
    const grads = {
      weightIh: new Float32Array(64 * 8),
      weightHh: new Float32Array(64 * 16),
      biasIh: new Float32Array(64),
      biasHh: new Float32Array(64),
      weightHr: null,
    };
    expect(() =>
      wasm.layerBackward!({ forward: oldArgs, dOut: oldArgs.out, dhN: null, dcN: null, dx: null, dh0: null, dc0: null, grads }, oldWs),
    ).toThrow(/^wasm\.layerBackward: the weights or workspace were made before wasm\.reset\(\)/);
    // Disposing them afterwards is harmless and changes nothing on the new heap.
    const stats = wasm.memoryStats();
    old.dispose();
    oldWs.dispose();
    expect(wasm.memoryStats()).toEqual(stats);
    fresh.dispose();
    ws.dispose();
  });

  it('lets the old memory be garbage-collected while old weights are still held', async () => {
    const wasm = await freshBackend();
    const w = randomWeights(new Generator(5), 'rnn_tanh', 8, 8);
    const old = wasm.prepareWeights(w);
    const oldWs = wasm.createWorkspace();
    wasm.layer(layerArgs(w, old, 1, 1), oldWs);
    // The old memory's buffer, reached through the weights' runtime (an internal path, for this check only).
    const buffer = new WeakRef((old as unknown as { runtime: { heap: WasmHeap } }).runtime.heap.f32.buffer);
    await wasm.reset();
    await collectUntil(() => buffer.deref() === undefined);
    expect(buffer.deref()).toBeUndefined();
    expect(old.disposed && oldWs.disposed).toBe(true);
  });

  it('is a no-op before init, and calls made while it is pending still run', async () => {
    const idle = createWasmBackend();
    await idle.reset();
    expect(idle.memoryStats().bytes).toBe(0);
    const wasm = await freshBackend();
    const w = randomWeights(new Generator(6), 'gru', 4, 4);
    const prepared = wasm.prepareWeights(w);
    const pending = wasm.reset();
    const args = layerArgs(w, prepared, 1, 1);
    expect(() => wasm.layer(args, wasm.createWorkspace())).not.toThrow();
    await pending;
    expect(prepared.disposed).toBe(true);
  });
});
