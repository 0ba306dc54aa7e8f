import { describe, expect, it } from 'vitest';
import type { Cell } from '../src/runner.js';
import { combineGemmRounds, combineRounds, median, roundOrder, roundRatio } from '../src/stats.js';

const cell = (medianMs: number | undefined, extra: Partial<Cell> = {}): Cell => ({
  runner: 'r',
  workload: 'w',
  version: '1',
  ...(medianMs === undefined ? { skipped: 'too slow' } : { medianMs, minMs: medianMs * 0.9, runs: 10, gflops: 100 / medianMs }),
  ...extra,
});

describe('bench rounds', () => {
  it('takes the median of odd and even counts and refuses none', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow(/no values/);
  });

  it('rotates the runners so each round starts with another', () => {
    expect(roundOrder(['a', 'b', 'c'], 0)).toEqual(['a', 'b', 'c']);
    expect(roundOrder(['a', 'b', 'c'], 1)).toEqual(['b', 'c', 'a']);
    expect(roundOrder(['a', 'b', 'c'], 3)).toEqual(['a', 'b', 'c']);
  });

  it('combines rounds into the median cell with the best min, all runs, the worst error and the spread', () => {
    const c = combineRounds([cell(10, { maxAbsErr: 1e-7 }), cell(14, { maxAbsErr: 3e-7 }), cell(12, { runs: 5 })]);
    expect(c.medianMs).toBe(12);
    expect(c.minMs).toBeCloseTo(9);
    expect(c.runs).toBe(25);
    expect(c.maxAbsErr).toBe(3e-7);
    expect(c.gflops).toBeCloseTo(100 / 12);
    expect(c.spread).toBeCloseTo(2 / 12);
  });

  it('keeps a single round as it was, without a spread, and skipped rounds out of the figures', () => {
    const one = combineRounds([cell(7)]);
    expect(one.medianMs).toBe(7);
    expect(one.spread).toBeUndefined();
    expect(combineRounds([cell(undefined), cell(8)]).medianMs).toBe(8);
    expect(combineRounds([cell(undefined)]).skipped).toBe('too slow');
  });

  it("combines the rounds' paired timings: each side's median, every pair counted", () => {
    const c = combineRounds([
      cell(10, { paired: { oneMs: 20, twoMs: 11, pairs: 10 } }),
      cell(12, { paired: { oneMs: 30, twoMs: 16, pairs: 12 } }),
      cell(11, { paired: { oneMs: 22, twoMs: 12, pairs: 10 } }),
    ]);
    expect(c.paired).toEqual({ oneMs: 22, twoMs: 12, pairs: 32 });
    expect(combineRounds([cell(10)]).paired).toBeUndefined();
  });

  it('takes the ratio round by round: drift that slows both sides cancels', () => {
    // recur 10 ms while the peer takes 20, then the machine slows both by 3x for a round.
    const mine = [cell(10), cell(30), cell(10)];
    const peer = [cell(20), cell(60), cell(21)];
    expect(roundRatio(mine, peer)).toBe(2);
    // Two rounds: ratios 2 and 3.
    expect(roundRatio([cell(10), cell(30)], [cell(20), cell(90)])).toBe(2.5);
    expect(roundRatio([cell(10)], [cell(undefined)])).toBeUndefined();
  });

  it('combines GEMM rounds per backend and size into the median time and its GFLOP/s', () => {
    const g = (backend: string, n: number, medianMs: number) => ({ backend, n, medianMs, gflops: (2 * n ** 3) / medianMs / 1e6, runs: 5 });
    const out = combineGemmRounds([
      [g('wasm', 256, 1), g('js', 256, 9)],
      [g('wasm', 256, 3), g('js', 256, 10)],
      [g('wasm', 256, 1.2), g('js', 256, 8)],
    ]);
    expect(out.map((c) => [c.backend, c.medianMs, c.runs])).toEqual([
      ['wasm', 1.2, 15],
      ['js', 9, 15],
    ]);
    expect(out[0]!.gflops).toBeCloseTo((2 * 256 ** 3) / 1.2 / 1e6);
  });
});
