// Threads change where the work runs, not the numbers: every PyTorch fixture gives the same bits on
// two and three threads (every call split, see backends.ts) as on one thread of the same kernel build,
// including where threads take over each other's hidden units and projection rows (work queues).

import { type Tensor, registerBackend, setBackend } from '@recur/core-tensor';
import { createWasmBackend } from '@recur/kernels-wasm';
import { describe, expect, it } from 'vitest';
import './backends.js';
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

  it('the threaded backend did split the calls over its threads', async () => {
    const b = (await import('./backends.js')).BACKENDS.find((x) => x.name === threaded) as unknown as {
      threadInfo(): { active: number; threadedCalls: number; singleCalls: number; tasksMoved: number };
    };
    const info = b.threadInfo();
    expect(info.active).toBeGreaterThan(1);
    expect(info.threadedCalls).toBeGreaterThan(0);
    expect(info.singleCalls).toBe(0);
    // The fixtures with H a multiple of 8 (8 and 16) shared their work through the queues, and 'always'
    // makes each thread take the others' tasks first.
    expect(info.tasksMoved).toBeGreaterThan(0);
  });
});
