// Threads change where the work runs, not the numbers: every PyTorch fixture gives the same bits on
// two and three threads (every call split, see backends.ts) as on one thread of the same kernel build.
// The fixtures' batches are small (below 4 rows, where each thread runs a fixed share of the units);
// a batched call of each mode adds the path where threads take over each other's hidden units and
// projection rows (work queues).

import { Generator, Tensor, noGrad, registerBackend, setBackend } from '@recur/core-tensor';
import { createWasmBackend } from '@recur/kernels-wasm';
import { describe, expect, it } from 'vitest';
import './backends.js';
import { GRU, LSTM, RNN } from '../src/index.js';
import { type FixtureRun, fixtureNames, loadFixture, runFixture } from './fixtures.js';

const oneThread = createWasmBackend({ name: 'wasm-relaxed-1t', threads: 1, priority: 1 });
registerBackend(oneThread);

function bits(t: Tensor | undefined): number[] {
  return t ? Array.from(new Uint32Array(Float32Array.from(t.values).buffer)) : [];
}

async function runOn(backend: string, name: string): Promise<FixtureRun> {
  await setBackend(backend);
  return runFixture(loadFixture(name));
}

describe.each([
  ['wasm-2t', 'wasm-relaxed-1t'],
  ['wasm-simd128-3t', 'wasm-simd128'],
])('%s against %s, bit for bit', (threaded, single) => {
  it.each(fixtureNames())('%s', async (name) => {
    const a = await runOn(single, name);
    const b = await runOn(threaded, name);
    expect(bits(b.output)).toEqual(bits(a.output));
    expect(bits(b.hN)).toEqual(bits(a.hN));
    expect(bits(b.cN)).toEqual(bits(a.cN));
  });

  for (const Kind of [LSTM, GRU, RNN]) {
    it(`a batched ${Kind.name} (6 sequences, 16 units, 2 layers)`, async () => {
      const m = new Kind(5, 16, { numLayers: 2, seed: 11 }) as unknown as {
        forward(x: Tensor): [Tensor, Tensor | Tensor[]];
        dispose(): void;
      };
      const g = new Generator(12);
      const x = new Tensor(Float32Array.from({ length: 7 * 6 * 5 }, () => g.normal()), [7, 6, 5]);
      const run = async (backend: string) => {
        await setBackend(backend);
        return noGrad(() => m.forward(x));
      };
      const [outA, hA] = await run(single);
      const [outB, hB] = await run(threaded);
      expect(bits(outB)).toEqual(bits(outA));
      const [hnA, hnB] = [Array.isArray(hA) ? hA[0] : hA, Array.isArray(hB) ? hB[0] : hB];
      expect(bits(hnB)).toEqual(bits(hnA));
      if (Array.isArray(hA) && Array.isArray(hB)) expect(bits(hB[1])).toEqual(bits(hA[1]));
      m.dispose();
    });
  }

  it('the threaded backend did split the calls over its threads', async () => {
    const b = (await import('./backends.js')).BACKENDS.find((x) => x.name === threaded) as unknown as {
      threadInfo(): { active: number; threadedCalls: number; singleCalls: number; tasksMoved: number };
    };
    const info = b.threadInfo();
    expect(info.active).toBeGreaterThan(1);
    expect(info.threadedCalls).toBeGreaterThan(0);
    expect(info.singleCalls).toBe(0);
    // The batched calls above shared their work through the queues, and 'always' makes each thread
    // take the others' tasks first.
    expect(info.tasksMoved).toBeGreaterThan(0);
  });
});
