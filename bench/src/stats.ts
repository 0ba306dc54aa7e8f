// How rounds of the benchmark are ordered and combined (`pnpm bench --rounds=N`).

import type { Cell } from './runner.js';
import { combineLosses } from './training.js';

export function median(xs: number[]): number {
  if (xs.length === 0) throw new Error('median of no values');
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** The runners of round `round`, rotated so that no runner always goes first (cool machine) or last. */
export function roundOrder(runners: string[], round: number): string[] {
  return runners.map((_, i) => runners[(i + round) % runners.length]!);
}

export type CombinedCell = Cell & { spread?: number };

/** The rounds' paired timings (runner.ts, timePaired): the medians of each side's medians, every pair counted. */
function pairedOfRounds(cs: Cell[]): Pick<Cell, 'paired'> {
  const ps = cs.flatMap((c) => (c.paired ? [c.paired] : []));
  if (ps.length === 0) return {};
  return { paired: { oneMs: median(ps.map((p) => p.oneMs)), twoMs: median(ps.map((p) => p.twoMs)), pairs: ps.reduce((n, p) => n + p.pairs, 0) } };
}

/**
 * One cell from the rounds of one runner and workload: the median of the rounds' medians, the best
 * min, every run counted, the worst error (training cells: see combineLosses), and `spread` = half the range of the rounds' medians
 * relative to their median. Rounds that skipped the cell are ignored; all skipped gives the first.
 */
export function combineRounds(cs: Cell[]): CombinedCell {
  const timed = cs.filter((c) => c.medianMs !== undefined);
  if (timed.length === 0) {
    if (cs.length === 0) throw new Error('combineRounds needs at least one cell');
    return cs[0]!;
  }
  const medians = timed.map((c) => c.medianMs!);
  const medianMs = median(medians);
  const first = timed[0]!;
  return {
    ...first,
    medianMs,
    minMs: Math.min(...timed.map((c) => c.minMs ?? c.medianMs!)),
    runs: timed.reduce((n, c) => n + (c.runs ?? 0), 0),
    gflops: first.gflops !== undefined ? (first.gflops * first.medianMs!) / medianMs : undefined,
    maxAbsErr: Math.max(...timed.map((c) => c.maxAbsErr ?? 0)),
    ...(first.loss ? { loss: combineLosses(timed.flatMap((c) => (c.loss ? [c.loss] : []))) } : {}),
    ...pairedOfRounds(timed),
    ...(timed.length > 1 ? { spread: (Math.max(...medians) - Math.min(...medians)) / 2 / medianMs } : {}),
  };
}

/**
 * Peer time / recur time from the same rounds: the median of each round's ratio, so that a slow
 * stretch of the machine weighs on both sides of a ratio rather than on one. Undefined when no round
 * timed both.
 */
export function roundRatio(mine: Cell[], peer: Cell[]): number | undefined {
  const rs: number[] = [];
  for (let i = 0; i < Math.min(mine.length, peer.length); i++) {
    const a = mine[i]!.medianMs;
    const b = peer[i]!.medianMs;
    if (a && b) rs.push(b / a);
  }
  return rs.length ? median(rs) : undefined;
}

export interface GemmCell {
  backend: string;
  n: number;
  gflops: number;
  medianMs: number;
  runs?: number;
}

/** GEMM micro-benchmark cells of every round, one per backend and size: the median round's time. */
export function combineGemmRounds(rounds: GemmCell[][]): GemmCell[] {
  const byKey = new Map<string, GemmCell[]>();
  for (const cells of rounds) {
    for (const c of cells) {
      const key = `${c.backend}|${c.n}`;
      byKey.set(key, [...(byKey.get(key) ?? []), c]);
    }
  }
  return [...byKey.values()].map((cs) => {
    const medianMs = median(cs.map((c) => c.medianMs));
    const first = cs[0]!;
    return { ...first, medianMs, gflops: (first.gflops * first.medianMs) / medianMs, runs: cs.reduce((k, c) => k + (c.runs ?? 0), 0) };
  });
}
