import { describe, expect, it } from 'vitest';
import type { Cell } from '../src/runner.js';
import { combineRounds } from '../src/stats.js';
import { FEW_STEPS, combineLosses, lossProblem, lossSummary } from '../src/training.js';
import { WORKLOADS, chunkRanges, flops, makeTrainingData, makeWeights, trainingFlops } from '../src/workloads.js';

// Deep equality of 400k-element arrays is slow in vitest; their bytes compare at once.
const sameBits = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

const falling = [1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.45];

describe('training sanity check', () => {
  it('summarises the losses: first, after a few steps, last, and the difference from recur js', () => {
    const s = lossSummary(falling, [1, 0.9001]);
    expect(s).toMatchObject({ steps: 7, first: 1, afterFew: falling[FEW_STEPS], last: 0.45, finite: true, firstErr: 0 });
    expect(s.err).toBeCloseTo(1e-4 / 0.9001, 9);
    expect(lossProblem(s)).toBeNull();
  });

  it('uses the last loss when there are fewer steps than a few', () => {
    const s = lossSummary([1, 0.8], [1]);
    expect(s.afterFew).toBe(0.8);
    expect(lossProblem(s)).toBeNull();
  });

  it('flags a non-finite loss anywhere in the run', () => {
    expect(lossProblem(lossSummary([...falling, Number.NaN], [1]))).toBe('non-finite loss');
    expect(lossProblem(lossSummary([1, Number.POSITIVE_INFINITY, 0.5, 0.4, 0.3], [1]))).toBe('non-finite loss');
  });

  it('flags a loss that does not fall within a few steps, or a single step', () => {
    expect(lossProblem(lossSummary([1, 0.9, 1.1, 1.2, 1.3, 0.2], [1]))).toMatch(/not falling \(1\.00 → 1\.30 after 4 steps\)/);
    expect(lossProblem(lossSummary([1], [1]))).toMatch(/not falling/);
  });

  it('flags another model (first loss) strictly and a diverging run loosely', () => {
    expect(lossProblem(lossSummary(falling, [1.001]))).toMatch(/first loss differs from recur js's by 1\.0e-3: not the same model/);
    expect(lossProblem(lossSummary(falling, [1, 0.91]))).toBeNull();
    expect(lossProblem(lossSummary(falling, [1, 0.99]))).toMatch(/losses differ from recur js's by 9\.1e-2/);
    // A NaN against a number is infinitely different, and no reference at all is not a pass.
    expect(lossSummary([1, Number.NaN], [1, 0.9]).err).toBe(Number.POSITIVE_INFINITY);
    expect(lossProblem(lossSummary(falling, []))).toMatch(/first loss differs/);
  });

  it('combines rounds: a failing round is the one shown, with the largest differences', () => {
    const ok = lossSummary(falling, [1, 0.9]);
    const bad = lossSummary([1, 1.1, 1.2, 1.3, 1.4], [1, 0.95]);
    const c = combineLosses([ok, bad]);
    expect(c.afterFew).toBe(1.4);
    expect(c.err).toBeCloseTo(0.15 / 0.95);
    expect(combineLosses([ok])).toEqual(ok);
    expect(() => combineLosses([])).toThrow(/at least one/);
    const cell = (loss: typeof ok): Cell => ({ runner: 'r', workload: 'train-x', version: '1', medianMs: 5, minMs: 4, runs: 10, gflops: 1, loss });
    expect(combineRounds([cell(ok), cell(bad), cell(ok)]).loss?.afterFew).toBe(1.4);
  });
});

describe('training workloads', () => {
  const byId = (id: string) => WORKLOADS.find((w) => w.id === id)!;

  it('splits a sequence into chunks, the last one shorter, and refuses a bad length', () => {
    expect(chunkRanges(200, 50)).toEqual([
      [0, 50],
      [50, 50],
      [100, 50],
      [150, 50],
    ]);
    expect(chunkRanges(100, 100)).toEqual([[0, 100]]);
    expect(chunkRanges(7, 3)).toEqual([
      [0, 3],
      [3, 3],
      [6, 1],
    ]);
    expect(() => chunkRanges(10, 0)).toThrow(/positive integer/);
  });

  it('trains the model of its forward workload: the same weights and input', () => {
    for (const [train, forward] of [
      ['train-medium', 'medium'],
      ['train-stream', 'stream'],
    ] as const) {
      const t = byId(train);
      const f = byId(forward);
      expect(t.train?.forward).toBe(forward);
      expect({ ...t, id: f.id, train: undefined }).toEqual({ ...f, train: undefined });
      const a = makeWeights(t);
      const b = makeWeights(f);
      expect(sameBits(a.input, b.input)).toBe(true);
      for (const name of Object.keys(b.params)) expect(sameBits(a.params[name]!.data, b.params[name]!.data), name).toBe(true);
    }
    expect(chunkRanges(byId('train-stream').seqLen, byId('train-stream').train!.chunkLen)).toHaveLength(4);
  });

  it("gives a head in PyTorch's initial range and the target of input feature 0 at this step and the one before", () => {
    const w = byId('train-stream');
    const { input } = makeWeights(w);
    const d = makeTrainingData(w, input);
    expect(d.headWeight).toHaveLength(w.hiddenSize);
    expect(d.headBias).toHaveLength(1);
    const bound = 1 / Math.sqrt(w.hiddenSize);
    expect(Math.max(...d.headWeight.map(Math.abs))).toBeLessThanOrEqual(bound);
    const I = w.inputSize;
    expect(d.target).toHaveLength(w.seqLen * w.batch);
    expect(d.target[0]).toBeCloseTo(0.5 * input[0]!, 6);
    expect(d.target[5]).toBeCloseTo(0.5 * (input[5 * I]! + input[4 * I]!), 6);
    expect(makeTrainingData(w, input)).toEqual(d);
  });

  it('counts a training step as three forwards of the layer and the head', () => {
    const w = byId('train-medium');
    expect(trainingFlops(w)).toBe(3 * (flops(w) + 2 * 100 * 32 * 256));
  });
});
