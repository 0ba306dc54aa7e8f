// One runner in its own process: prepares each workload (outside the timer), checks its output against
// recur js (a training workload: its losses, see training.ts), times warm-up plus at least 10 runs and
// one second of runs, and prints one JSON line per cell.
// Usage: runner.ts <runner> <workload,...> [GFLOP/s of this runner on a workload before, to skip hopeless cells]

import { performance } from 'node:perf_hooks';
import { brainRunner } from './runners/brain.js';
import { ortRunner } from './runners/ort.js';
import { recurRunner } from './runners/recur.js';
import { tfjsRunner } from './runners/tfjs.js';
import type { Prepared, Runner } from './runners/types.js';
import { INFERENCE_ONLY, type LossSummary, REFERENCE_STEPS, lossProblem, lossSummary } from './training.js';
import { WORKLOADS, type Workload, cellFlops } from './workloads.js';

export const RUNNERS: Record<string, () => Runner> = {
  'recur-wasm': () => recurRunner('wasm'),
  'recur-wasm-relaxed': () => recurRunner('wasm', false, 'relaxed-simd'),
  'recur-js': () => recurRunner('js'),
  'recur-wasm-frames': () => recurRunner('wasm', true),
  'recur-wasm-2t': () => recurRunner('wasm', false, undefined, 2),
  'recur-wasm-2t-relaxed': () => recurRunner('wasm', false, 'relaxed-simd', 2),
  'recur-wasm-frames-2t': () => recurRunner('wasm', true, undefined, 2),
  'recur-js-frames': () => recurRunner('js', true),
  'ort-node': () => ortRunner('node', 1),
  'ort-node-2t': () => ortRunner('node', 2),
  'ort-web-1t': () => ortRunner('web', 1),
  'ort-web-2t': () => ortRunner('web', 2),
  'tfjs-wasm': () => tfjsRunner('wasm'),
  'tfjs-cpu': () => tfjsRunner('cpu'),
  'brain.js': () => brainRunner,
};

/** A single run slower than this gets fewer timed runs (and the table says how many). */
const SLOW_RUN_MS = 3000;
const BUDGET_MS = 30_000;
/** Forward cells estimated to need longer than this per forward are skipped (and the table says so). */
const MAX_ESTIMATED_S = 60;

export interface Cell {
  runner: string;
  workload: string;
  medianMs?: number;
  minMs?: number;
  runs?: number;
  gflops?: number;
  maxAbsErr?: number;
  note?: string;
  skipped?: string;
  /** Training cells: the losses over the run and how the first ones compare with recur js's. */
  loss?: LossSummary;
  /**
   * Threaded recur runners: the same model on 1 thread and on its threads, timed alternately in short
   * blocks in this process (medians of `pairs` calls a side), so both sides of the scaling ratio see
   * the same minute.
   */
  paired?: { oneMs: number; twoMs: number; pairs: number };
  version: string;
}

async function reference(w: Workload): Promise<Float32Array> {
  const p = (await recurRunner('js').prepare(w))!;
  await p.run();
  return p.output();
}

function maxAbsError(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let e = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= e)) e = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
  }
  return e;
}

/**
 * Times warm-up plus at least 10 runs and one second of runs (fewer for slow runs); sorted times.
 * `afterFirst` runs untimed after the first warm-up run (to check its output).
 */
async function timeRuns(run: () => Promise<void> | void, afterFirst?: () => Promise<void>): Promise<number[]> {
  const t0 = performance.now();
  await run();
  const first = performance.now() - t0;
  await afterFirst?.();
  const times: number[] = [];
  if (first < SLOW_RUN_MS) {
    await run(); // second warm-up
    const start = performance.now();
    while (times.length < 10 || performance.now() - start < 1000) {
      const s = performance.now();
      await run();
      times.push(performance.now() - s);
      if (times.length >= 10 && performance.now() - start > BUDGET_MS) break;
    }
  } else {
    const runs = Math.max(2, Math.min(10, Math.floor(BUDGET_MS / first)));
    for (let i = 0; i < runs; i++) {
      const s = performance.now();
      await run();
      times.push(performance.now() - s);
    }
  }
  return times.sort((a, b) => a - b);
}

/**
 * One thread and the runner's threads alternately, in short blocks: after each switch one untimed
 * call (the other backend's weights have just had the caches), then `block` timed calls, about 100 ms
 * of work (2 to 20 calls). At least 10 timed calls a side and one second, or what fits in BUDGET_MS
 * for slow runs (at least 2 a side); medians of each side.
 */
async function timePaired(p: Prepared, typicalMs: number): Promise<NonNullable<Cell['paired']>> {
  const block = Math.max(2, Math.min(20, Math.floor(100 / Math.max(typicalMs, 1e-3))));
  const one: number[] = [];
  const two: number[] = [];
  const blockOn = async (n: 1 | 2, into: number[]) => {
    await p.useThreads!(n);
    await p.run();
    for (let i = 0; i < block; i++) {
      const s = performance.now();
      await p.run();
      into.push(performance.now() - s);
    }
  };
  const start = performance.now();
  const enough = () => {
    const ms = performance.now() - start;
    return (one.length >= 10 && ms >= 1000) || (one.length >= 2 && ms > BUDGET_MS);
  };
  while (!enough()) {
    await blockOn(1, one);
    await blockOn(2, two);
  }
  await p.useThreads!(2);
  const med = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return { oneMs: med(one), twoMs: med(two), pairs: one.length };
}

function timed(times: number[], w: Workload) {
  const medianMs = times[Math.floor(times.length / 2)]!;
  return { medianMs, minMs: times[0]!, runs: times.length, gflops: cellFlops(w) / medianMs / 1e6 };
}

async function measure(runnerName: string, w: Workload): Promise<Cell> {
  const runner = RUNNERS[runnerName]!();
  const base = { runner: runnerName, workload: w.id, version: runner.version() };
  if (w.train) return measureTraining(runner, base, w);
  const skip = runner.skip?.(w);
  if (skip) return { ...base, skipped: skip };
  // The reference first: it selects recur's js backend, and a recur runner selects its own after.
  const ref = await reference(w);
  const p = await runner.prepare(w);
  if (!p) return { ...base, skipped: 'not expressible' };
  let maxAbsErr = Number.NaN;
  const times = await timeRuns(
    () => p.run(),
    async () => {
      const got = await p.output();
      const expected = p.compare === 'last' ? ref.subarray((w.seqLen - 1) * w.batch * w.hiddenSize) : ref;
      maxAbsErr = maxAbsError(got, expected);
    },
  );
  const paired = p.useThreads ? await timePaired(p, times[Math.floor(times.length / 2)]!) : undefined;
  p.dispose?.();
  return { ...base, ...timed(times, w), maxAbsErr, ...(paired ? { paired } : {}), ...(p.note ? { note: p.note } : {}) };
}

async function measureTraining(runner: Runner, base: Pick<Cell, 'runner' | 'workload' | 'version'>, w: Workload): Promise<Cell> {
  if (!runner.prepareTraining) return { ...base, skipped: INFERENCE_ONLY };
  // The first losses of recur js: the same model, weights and data give the same first loss, and the
  // same gradients and Adam the same next ones (up to float32 and tfjs's single LSTM bias).
  const r = await recurRunner('js').prepareTraining!(w);
  for (let i = 0; i < REFERENCE_STEPS; i++) await r.run();
  const ref = r.losses().slice();
  r.dispose?.();
  const p = await runner.prepareTraining(w);
  const times = await timeRuns(() => p.run());
  const losses = p.losses();
  p.dispose?.();
  return { ...base, ...timed(times, w), loss: lossSummary(losses, ref), ...(p.note ? { note: p.note } : {}) };
}

async function main(): Promise<void> {
  const [runnerName, list, rateBefore] = process.argv.slice(2);
  if (!runnerName || !RUNNERS[runnerName]) throw new Error(`unknown runner ${runnerName}; one of ${Object.keys(RUNNERS).join(', ')}`);
  const ids = (list ?? '').split(',').filter(Boolean);
  let throughput = Number(rateBefore ?? 0) || 0; // GFLOP/s of the last measured cell, to skip hopeless ones
  for (const w of WORKLOADS.filter((x) => ids.includes(x.id))) {
    process.stderr.write(`  ${runnerName.padEnd(18)} ${w.id.padEnd(11)} ...`);
    let cell: Cell;
    const estimateS = throughput > 0 ? cellFlops(w) / throughput / 1e9 : 0;
    try {
      // Training cells are always timed: the targets need tfjs-cpu's step on train-medium (about a minute).
      if (!w.train && estimateS > MAX_ESTIMATED_S) {
        cell = {
          runner: runnerName,
          workload: w.id,
          version: RUNNERS[runnerName]!().version(),
          skipped: `~${estimateS.toFixed(0)} s per forward at its ${throughput.toFixed(2)} GFLOP/s on the previous workload`,
        };
      } else {
        cell = await measure(runnerName, w);
        if (cell.gflops && !w.train) throughput = cell.gflops;
      }
    } catch (error) {
      cell = { runner: runnerName, workload: w.id, version: '?', skipped: `failed: ${(error as Error).message.split('\n')[0]}` };
    }
    const check = cell.loss
      ? `loss ${cell.loss.first.toPrecision(3)} → ${cell.loss.last.toPrecision(3)} in ${cell.loss.steps} steps, ${lossProblem(cell.loss) ?? 'ok'}`
      : `max err ${cell.maxAbsErr?.toExponential(1)}`;
    process.stderr.write(cell.medianMs !== undefined ? ` ${cell.medianMs.toFixed(2)} ms (${cell.runs} runs), ${check}\n` : ` skipped: ${cell.skipped}\n`);
    process.stdout.write(`${JSON.stringify(cell)}\n`);
  }
  process.exit(0);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
