// Threads (issue 14): the whole conformance suite at 2 and 3 threads (3 catches uneven splits), results
// bit-identical to one thread for every mode, split and layout, a failure on a worker reaching the
// caller as a BackendError with the backend still usable, bad options refused, and a Node process that
// exits by itself with the workers running.

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describeKernelConformance, paddedLayerArgs, randomWeights, runFused } from '@recur/conformance';
import { ArgumentError, BackendError, Generator, RangeArgumentError, type RecurrentMode } from '@recur/core-tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWasmBackend, threadsUnavailableReason } from '../src/index.js';
import { createMemory } from '../src/env.js';
import { instantiateKernels } from '../src/module.js';
import { CONTROL_BYTES, ThreadPool, startThreads } from '../src/pool.js';
import { RowPolicy, WasmRuntime } from '../src/runtime.js';

// 'always' splits every call, however small, so the suite exercises the split, not the cost model.
const one = createWasmBackend({ name: 'wasm-1t', threads: 1 });
const two = createWasmBackend({ name: 'wasm-2t', threads: 2, split: 'always' });
const three = createWasmBackend({ name: 'wasm-3t', threads: 3, split: 'always' });
const auto = createWasmBackend({ name: 'wasm-auto', threads: 2 });

beforeAll(async () => {
  await Promise.all([one.init(), two.init(), three.init(), auto.init()]);
});

afterAll(() => {
  for (const b of [two, three, auto]) b.dispose();
});

/**
 * A 2-thread runtime whose pool reports the costs of a quiet machine, generously (a 2 µs barrier and a
 * 20 µs call; this machine measures about 0.12 and 0.5 µs when idle), so the cost model's decision does
 * not hang on how busy the machine was at start-up: CI runs other packages' tests beside these, and one
 * such run measured costs that kept a 1,280-row call on one thread. What a busy start-up does, and the
 * remeasure that recovers from it, have tests of their own.
 */
async function quietRuntime(name: string): Promise<WasmRuntime> {
  const memory = createMemory(true);
  // The kernels `one` runs (relaxed SIMD where the engine has it), so bits compare with its results.
  const kernels = await instantiateKernels(memory, one.kernelVariant() ?? 'simd128', true);
  const runtime = new WasmRuntime(kernels.exports, memory, name);
  await startThreads(runtime, kernels.module, 2, 'auto', 0, () => true);
  runtime.pool!.timings = { barrierNs: 2000, callNs: 20_000 };
  runtime.pool!.measuredAt = performance.now();
  return runtime;
}

type Bits = { out: Float32Array; hN: Float32Array; cN?: Float32Array | null };
/** The same bits in out, hN and (where there is one) cN: a threaded result against one thread's. */
function expectSameBits(got: Bits, want: Bits): void {
  expect(Buffer.from(got.out.buffer).equals(Buffer.from(want.out.buffer))).toBe(true);
  expect(Buffer.from(got.hN.buffer).equals(Buffer.from(want.hN.buffer))).toBe(true);
  if (want.cN) expect(Buffer.from(got.cN!.buffer).equals(Buffer.from(want.cN.buffer))).toBe(true);
}

describe('the worker pool', () => {
  it('starts the threads asked for, in Node', () => {
    expect(threadsUnavailableReason()).toBeNull();
    expect(two.threadInfo()).toMatchObject({ requested: 2, active: 2, reason: null });
    expect(three.threadInfo()).toMatchObject({ requested: 3, active: 3, reason: null });
    expect(one.threadInfo()).toMatchObject({ requested: 1, active: 1, reason: null });
    expect(two.capabilities?.threads).toBe(2);
    expect(one.capabilities?.threads).toBe(1);
  });

  it('measures its costs at start-up', () => {
    const info = auto.threadInfo();
    expect(info.barrierNs).toBeGreaterThan(0);
    expect(info.callNs).toBeGreaterThan(0);
    expect(info.gflops).toBeGreaterThan(0);
  });

  it('keeps a one-row, one-step call of a tiny layer on the calling thread (the cost model)', () => {
    const g = new Generator(3);
    const w = randomWeights(g, 'lstm', 3, 4);
    runFused(auto, w, new Float32Array(3), 1, 1);
    expect(auto.threadInfo().lastCall).toBe(1);
  });
});

describeKernelConformance('wasm, 2 threads', () => two);
describeKernelConformance('wasm, 3 threads', () => three);

describe('bit-identical for every thread count', () => {
  const cases: Array<{ mode: RecurrentMode; I: number; H: number; proj?: number; T: number; B: number; lengths?: number[]; reverse?: boolean }> = [
    { mode: 'lstm', I: 24, H: 64, T: 9, B: 40 },
    { mode: 'lstm', I: 24, H: 64, T: 1, B: 1 },
    { mode: 'lstm', I: 7, H: 40, proj: 16, T: 6, B: 5, reverse: true },
    { mode: 'lstm', I: 7, H: 40, proj: 12, T: 5, B: 3 },
    { mode: 'lstm', I: 5, H: 10, T: 6, B: 3 },
    { mode: 'gru', I: 16, H: 48, T: 8, B: 37 },
    { mode: 'gru', I: 16, H: 48, T: 7, B: 4, lengths: [7, 5, 5, 2], reverse: false },
    { mode: 'gru', I: 16, H: 48, T: 7, B: 4, lengths: [7, 6, 3, 1], reverse: true },
    { mode: 'lstm', I: 9, H: 24, T: 6, B: 3, lengths: [6, 4, 1] },
    { mode: 'rnn_tanh', I: 12, H: 32, T: 11, B: 9 },
    { mode: 'rnn_relu', I: 12, H: 20, T: 4, B: 2 },
  ];
  for (const c of cases) {
    const label = `${c.mode} I=${c.I} H=${c.H}${c.proj ? ` proj=${c.proj}` : ''} T=${c.T} B=${c.B}${c.lengths ? ` packed ${c.lengths}` : ''}${c.reverse ? ' reverse' : ''}`;
    it(label, () => {
      const g = new Generator(c.H * 31 + c.T);
      const w = randomWeights(g, c.mode, c.I, c.H, c.proj ?? 0);
      const P = c.proj ?? c.H;
      const x = Float32Array.from({ length: c.T * c.B * c.I }, () => g.normal());
      const h0 = Float32Array.from({ length: c.B * P }, () => g.normal());
      const c0 = c.mode === 'lstm' ? Float32Array.from({ length: c.B * c.H }, () => g.normal()) : null;
      const opts = { h0, c0, reverse: c.reverse ?? false, lengths: c.lengths ?? null };
      const base = runFused(one, w, x, c.T, c.B, opts);
      for (const b of [two, three]) {
        const r = runFused(b, w, x, c.T, c.B, opts);
        expect(b.threadInfo().lastCall).toBe(b.threadInfo().requested);
        expectSameBits(r, base);
      }
    });
  }
});

describe('one-row steps: fixed shares or the work queues (RowPolicy)', () => {
  const cases: Array<{ mode: RecurrentMode; H: number; T: number; B: number }> = [
    { mode: 'lstm', H: 64, T: 9, B: 1 },
    { mode: 'lstm', H: 48, T: 5, B: 3 },
    { mode: 'gru', H: 48, T: 7, B: 1 },
    { mode: 'rnn_tanh', H: 32, T: 6, B: 2 },
  ];
  for (const c of cases) {
    it(`${c.mode} H=${c.H} T=${c.T} B=${c.B}: the same bits both ways and on one thread`, async () => {
      const runtime = await quietRuntime(`wasm-rows-${c.mode}-${c.H}`);
      try {
        runtime.alwaysSplit = true;
        const g = new Generator(c.H + c.T * 7 + c.B);
        const w = randomWeights(g, c.mode, 12, c.H);
        const x = Float32Array.from({ length: c.T * c.B * 12 }, () => g.normal());
        const base = runFused(one, w, x, c.T, c.B);
        const prepared = runtime.prepare(w);
        const workspace = runtime.createWorkspace();
        for (const rows of ['never', 'always'] as const) {
          runtime.rowQueues = rows;
          const moved = runtime.tasksMoved;
          const args = paddedLayerArgs(w, prepared, x, c.T, c.B);
          runtime.layer(args, workspace);
          expect(runtime.lastThreads).toBe(2);
          // 'always' splits take the others' tasks first: through the queues, tasks move.
          if (rows === 'always') expect(runtime.tasksMoved).toBeGreaterThan(moved);
          else expect(runtime.tasksMoved).toBe(moved);
          expectSameBits(args, base);
        }
        workspace.dispose();
        prepared.dispose();
      } finally {
        runtime.drop();
      }
    });
  }

  it('probes the queues, keeps them while tasks move, and otherwise runs fixed shares', () => {
    const p = new RowPolicy();
    // The first window is a probe; a balanced machine moves almost nothing: fixed shares after it.
    expect(p.queues).toBe(true);
    p.record(200, 3);
    expect(p.queues).toBe(true);
    p.record(200, 2);
    expect(p.queues).toBe(false);
    // Fixed shares count steps only, and probe again after 16 windows of 256 steps.
    for (let i = 0; i < 15; i++) {
      p.record(256, 99);
      expect(p.queues).toBe(false);
    }
    p.record(256, 0);
    expect(p.queues).toBe(true);
    // A core slower for whole calls: its tasks keep moving (one a step in four or more), queues stay.
    for (let i = 0; i < 10; i++) {
      p.record(256, 64);
      expect(p.queues).toBe(true);
    }
    // Streamed frames count one step each; the slow core catches up: back to fixed shares.
    for (let i = 0; i < 255; i++) p.record(1, 0);
    expect(p.queues).toBe(true);
    p.record(1, 0);
    expect(p.queues).toBe(false);
  });
});

describe('work queues: a thread done with its share takes over the rest of another', () => {
  it("moved tasks in the cases above ('always' takes the others' tasks first), with the same bits", () => {
    // Every case with H a multiple of 8 and no projection ran its projection chunks and 8-unit blocks
    // through the queues, each thread starting at the back of the others'.
    expect(two.threadInfo().tasksMoved).toBeGreaterThan(0);
    expect(three.threadInfo().tasksMoved).toBeGreaterThan(0);
  });

  for (const mode of ['lstm', 'gru', 'rnn_tanh'] as const) {
    it(`${mode}: a batched call split by the cost model gives the bits of one thread`, async () => {
      const runtime = await quietRuntime(`wasm-cost-${mode}`);
      try {
        const g = new Generator(mode.length * 5);
        const w = randomWeights(g, mode, 48, 128);
        const T = 12;
        const B = 24;
        const x = Float32Array.from({ length: T * B * 48 }, () => g.normal());
        const base = runFused(one, w, x, T, B);
        const prepared = runtime.prepare(w);
        const workspace = runtime.createWorkspace();
        for (let i = 0; i < 3; i++) {
          const args = paddedLayerArgs(w, prepared, x, T, B);
          runtime.layer(args, workspace);
          expect(runtime.lastThreads).toBe(2);
          expectSameBits(args, base);
        }
        workspace.dispose();
        prepared.dispose();
      } finally {
        runtime.drop();
      }
    });
  }
});

describe("a large threaded call's output", () => {
  it('has its pages brought in while the other threads start, writing only positions the call owns', async () => {
    const runtime = await quietRuntime('wasm-prefault');
    const pool = runtime.pool!;
    const run = pool.runLayer.bind(pool);
    const prefaulted: boolean[] = [];
    pool.runLayer = (desc, nt, beforeOwn = null) => {
      prefaulted.push(beforeOwn !== null);
      run(desc, nt, beforeOwn);
    };
    try {
      const g = new Generator(21);
      const P = 128;
      const w = randomWeights(g, 'gru', 24, P);
      const T = 40;
      const B = 16;
      const n = T * B * P; // 81,920 floats: past the 65,536 from which the pages are brought in
      const x = Float32Array.from({ length: T * B * 24 }, () => g.normal());
      const base = runFused(one, w, x, T, B);
      const prepared = runtime.prepare(w);
      const workspace = runtime.createWorkspace();
      // Contiguous, at an offset into a larger buffer: what lies around the output keeps its values.
      const pad = 3000;
      const flat = new Float32Array(pad + n + pad).fill(7);
      const a = { ...paddedLayerArgs(w, prepared, x, T, B), out: flat, outOffset: pad, outStride: P };
      runtime.layer(a, workspace);
      expect(runtime.lastThreads).toBe(2);
      expect(Buffer.from(flat.slice(pad, pad + n).buffer).equals(Buffer.from(base.out.buffer))).toBe(true);
      expect(flat.subarray(0, pad).every((v) => v === 7) && flat.subarray(pad + n).every((v) => v === 7)).toBe(true);
      // Strided, as one direction of a bidirectional layer writes [T, B, 2P]: the other direction's
      // columns keep theirs.
      const wide = new Float32Array(2 * n).fill(7);
      runtime.layer({ ...paddedLayerArgs(w, prepared, x, T, B), out: wide, outOffset: P, outStride: 2 * P }, workspace);
      for (let r = 0; r < T * B; r++) {
        expect(wide.subarray(2 * r * P, (2 * r + 1) * P).every((v) => v === 7)).toBe(true);
        const got = wide.slice((2 * r + 1) * P, (2 * r + 2) * P);
        expect(Buffer.from(got.buffer).equals(Buffer.from(base.out.slice(r * P, (r + 1) * P).buffer))).toBe(true);
      }
      // A small call (a streamed frame's size) goes without.
      const small = runFused(one, w, x.subarray(0, 4 * 24), 1, 4);
      const s = paddedLayerArgs(w, prepared, x.subarray(0, 4 * 24), 1, 4);
      runtime.layer(s, workspace);
      expectSameBits(s, small);
      expect(prefaulted).toEqual(runtime.lastThreads === 2 ? [true, true, false] : [true, true]);
      workspace.dispose();
      prepared.dispose();
    } finally {
      runtime.drop();
    }
  });
});

describe('a memory that grows between calls', () => {
  it('is seen by every thread: a call that grows it by megabytes stays bit-identical', () => {
    const g = new Generator(12);
    const w = randomWeights(g, 'lstm', 32, 64);
    const small = Float32Array.from({ length: 2 * 2 * 32 }, () => g.normal());
    runFused(two, w, small, 2, 2);
    const before = two.memoryStats().bytes;
    const T = 40;
    const B = 96;
    const x = Float32Array.from({ length: T * B * 32 }, () => g.normal());
    const a = runFused(one, w, x, T, B);
    const b = runFused(two, w, x, T, B);
    expect(two.memoryStats().bytes).toBeGreaterThan(before);
    expect(two.threadInfo().lastCall).toBe(2);
    expect(Buffer.from(b.out.buffer).equals(Buffer.from(a.out.buffer))).toBe(true);
    expect(Buffer.from(b.hN.buffer).equals(Buffer.from(a.hN.buffer))).toBe(true);
  });
});

describe('failures', () => {
  it('refuses a threads value that is not a positive integer', () => {
    expect(() => createWasmBackend({ threads: 0 })).toThrow(RangeArgumentError);
    expect(() => createWasmBackend({ threads: 65 })).toThrow(/threads must be between 1 and 64, got 65/);
    expect(() => createWasmBackend({ threads: 1.5 })).toThrow(ArgumentError);
    expect(() => createWasmBackend({ threads: '2' as unknown as number })).toThrow(/expected threads as a positive integer, got the string '2'/);
    expect(() => createWasmBackend({ split: 'sometimes' as 'auto' })).toThrow(ArgumentError);
  });

  it('an exception inside a kernel on a worker reaches the caller as a BackendError, and the pool stays usable', async () => {
    const memory = createMemory(true);
    const kernels = await instantiateKernels(memory, 'simd128', true);
    const ctl = 1024;
    const pool = await ThreadPool.start(2, kernels.module, memory, ctl, kernels.exports, 2);
    try {
      const desc = ctl + 2 * CONTROL_BYTES; // after the pool's two control blocks
      const i32 = new Int32Array(memory.buffer);
      // An RNN whose input rows run past the end of the memory from row 8 on: thread 0's rows
      // (0-7) are in bounds, thread 1's (8-15) are not, so only the worker traps.
      const bytes = memory.buffer.byteLength;
      const fields = [2, 1, 16, 16, 1024, 8, 8, 0, 2, ctl, bytes - 8 * 1024 * 4, 4096, 4096, 4096, 0, 0, 0, 8192, 8704, 0, 9216, 12288];
      i32.fill(0, desc >> 2, (desc >> 2) + 32);
      i32.set(fields, desc >> 2);
      expect(() => pool.runLayer(desc, 2)).toThrow(BackendError);
      expect(() => pool.runLayer(desc, 2)).toThrow(/a kernel failed on a worker thread \(thread 1: .*out of bounds/);
      expect(pool.broken).toBeNull();
      // A valid call afterwards runs on both threads.
      i32[(desc >> 2) + 10] = 16384;
      expect(() => pool.runLayer(desc, 2)).not.toThrow();
    } finally {
      pool.dispose();
    }
  });

  it('measures its costs again (at most once a second) when a busy start-up made them look expensive', async () => {
    const memory = createMemory(true);
    const kernels = await instantiateKernels(memory, 'simd128', true);
    const pool = await ThreadPool.start(2, kernels.module, memory, 1024, kernels.exports, 2);
    try {
      pool.timings = { barrierNs: 1e9, callNs: 1e9 };
      pool.measuredAt = performance.now() - 2000;
      expect(pool.remeasure()).toBe(true);
      expect(pool.timings.barrierNs).toBeLessThan(1e9);
      expect(pool.timings.callNs).toBeLessThan(1e9);
      expect(pool.remeasure()).toBe(false);
    } finally {
      pool.dispose();
    }
  });

  it('works the decision for a large call out again on every call, so a remeasure counts at once', async () => {
    const runtime = await quietRuntime('wasm-decisions');
    try {
      const g = new Generator(13);
      const w = randomWeights(g, 'lstm', 32, 64);
      const prepared = runtime.prepare(w);
      const workspace = runtime.createWorkspace();
      const T = 20;
      const B = 64;
      const args = paddedLayerArgs(w, prepared, Float32Array.from({ length: T * B * 32 }, () => g.normal()), T, B);
      const pool = runtime.pool!;
      const quiet = { ...pool.timings };
      // A busy start-up: every call looks too expensive to split, and was measured just now.
      pool.timings = { barrierNs: 1e9, callNs: 1e9 };
      pool.measuredAt = performance.now();
      runtime.layer(args, workspace);
      expect(runtime.lastThreads).toBe(1);
      // The same weights and sizes right after the costs came down: the call splits at once.
      pool.timings = quiet;
      runtime.layer(args, workspace);
      expect(runtime.lastThreads).toBe(2);
      workspace.dispose();
      prepared.dispose();
    } finally {
      runtime.drop();
    }
  });

  it('a pool that cannot start rejects with the reason instead of hanging', async () => {
    const memory = createMemory(false);
    const kernels = await instantiateKernels(memory, 'simd128', false);
    await expect(ThreadPool.start(2, kernels.module, memory, 1024, kernels.exports, 2)).rejects.toThrow();
  });

  it('after dispose() the backend runs on one thread and says why', () => {
    const b = createWasmBackend({ name: 'wasm-disposed', threads: 2 });
    return b.init().then(() => {
      b.dispose();
      expect(b.threadInfo()).toMatchObject({ active: 1, reason: expect.stringMatching(/disposed/) });
      const g = new Generator(9);
      const w = randomWeights(g, 'gru', 4, 8);
      const r = runFused(b, w, new Float32Array(2 * 4).fill(0.5), 2, 1);
      expect(r.hN.length).toBe(8);
    });
  });
});

describe('a Node process with threads running', () => {
  it('exits by itself when the script ends', () => {
    const script = `
      import { createWasmBackend } from '@recur/kernels-wasm';
      const b = createWasmBackend({ threads: 2 });
      await b.init();
      console.log('threads', b.threadInfo().active);
    `;
    const started = performance.now();
    const r = spawnSync(process.execPath, ['--conditions=@recur/source', '--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('threads 2');
    expect(r.status).toBe(0);
    expect(performance.now() - started).toBeLessThan(30_000);
  });
});
