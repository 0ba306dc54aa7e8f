// `pnpm bench`: every recur backend and every peer on the same workloads, each cell (a runner on a
// workload) in its own process, one after another (never competing for the cores), workload by
// workload: the cells a ratio compares run within seconds of each other, not minutes apart, so a
// noisy machine's drift lands on both sides of it. Prints the tables and writes them, with the raw
// JSON lines, the machine and the versions, to bench/results/.
// Flags: --quick (a subset in under a minute), --memory (the full 10,000-call memory soak),
//        --rounds=N (run every cell N times, interleaved, the runners in a rotated order each round: a
//        noisy machine's drift then lands on every runner alike; cells report the median of the rounds),
//        --runners=a,b  --workloads=x,y

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chartSvg } from './chart.js';
import type { Cell } from './runner.js';
import { type GemmCell, combineGemmRounds, combineRounds, median, roundOrder, roundRatio } from './stats.js';
import { type Target, targetRow } from './targets.js';
import { FEW_STEPS, FIRST_LOSS_REL_OK, INFERENCE_ONLY, LOSS_REL_OK, REFERENCE_STEPS, lossProblem } from './training.js';
import { QUICK, WORKLOADS, chunkRanges } from './workloads.js';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const option = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1]?.split(',');
const quick = flag('quick');
const rounds = Number(option('rounds')?.[0] ?? 1);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds expects a whole number of at least 1, got '${option('rounds')}'`);

const ALL_RUNNERS = [
  'recur-wasm',
  'recur-wasm-relaxed',
  'recur-wasm-2t',
  'recur-wasm-2t-relaxed',
  'recur-js',
  'recur-wasm-frames',
  'recur-wasm-frames-2t',
  'recur-js-frames',
  'ort-node',
  'ort-web-1t',
  'ort-web-2t',
  'tfjs-wasm',
  'tfjs-cpu',
  'brain.js',
];
const QUICK_RUNNERS = ['recur-wasm', 'recur-wasm-relaxed', 'recur-wasm-2t', 'recur-js', 'recur-wasm-frames', 'ort-node', 'ort-web-1t', 'ort-web-2t', 'tfjs-wasm'];
// A run narrowed with --runners or --workloads is kept under its own name, never replaces latest.md,
// and soaks memory only briefly (unless --memory).
const custom = option('runners') !== undefined || option('workloads') !== undefined;
const runners = option('runners') ?? (quick ? QUICK_RUNNERS : ALL_RUNNERS);
const workloads = option('workloads') ?? (quick ? QUICK : WORKLOADS.map((w) => w.id));
/** Training-step workloads get their own table; the forward table, the chart and the soak are the others. */
const trainsOn = new Map(WORKLOADS.flatMap((w) => (w.train ? [[w.id, w.train.forward] as const] : [])));
const forwardWorkloads = workloads.filter((w) => !trainsOn.has(w));
const trainingWorkloads = workloads.filter((w) => trainsOn.has(w));
function describeTraining(id: string): string {
  const w = WORKLOADS.find((x) => x.id === id)!;
  const n = chunkRanges(w.seqLen, w.train!.chunkLen).length;
  return n > 1 ? `${id}, ${w.seqLen} steps as truncated BPTT in ${n} chunks of ${w.train!.chunkLen}` : `${id}, BPTT over all ${w.seqLen} steps`;
}

// What recur's wasm kernels do with relaxed SIMD's fused multiply-add (default in browsers and Node 22+),
// measured here by turning on V8's flag for that runner only; every other runner sees plain Node.
const extraFlags = (scriptArgs: string[]) => (scriptArgs[0]?.endsWith('-relaxed') ? ['--experimental-wasm-relaxed-simd'] : []);

function child(script: string, scriptArgs: string[], nodeFlags = extraFlags(scriptArgs)): string[] {
  const r = spawnSync(
    process.execPath,
    ['--expose-gc', ...nodeFlags, '--conditions=@recur/source', '--import', 'tsx', join(here, script), ...scriptArgs],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 },
  );
  if (r.status !== 0) process.stderr.write(`  ${script} ${scriptArgs.join(' ')} exited with ${r.status}\n`);
  return (r.stdout ?? '').split('\n').filter((l) => l.startsWith('{'));
}

const started = Date.now();
console.log(
  `recur bench${quick ? ' (quick)' : ''}: ${runners.length} runners x ${workloads.length} workloads, one process per cell, workload by workload` +
    `${rounds > 1 ? `, ${rounds} interleaved rounds` : ''}\n`,
);
/** Cells of every round, by `runner|workload`, in round order. */
const perRound = new Map<string, Cell[]>();
const gemmSizes = quick ? '256' : '256,512,1024';
/** GEMM micro-benchmark cells of every round (run at the end of each round, so spread over the run). */
const gemmRounds: GemmCell[][] = [];
/** What two cores gave at the start and the end of each round (machine.ts), when threads are measured. */
const machineChecks: Array<{ round: number; capacity: number; alone: number }> = [];
const checkMachine = (round: number) => {
  for (const line of child('machine.ts', [])) machineChecks.push({ round, ...(JSON.parse(line) as { machine: { capacity: number; alone: number } }).machine });
};
const threaded = runners.some((r) => r.includes('-2t'));
for (let round = 0; round < rounds; round++) {
  if (rounds > 1) console.log(`round ${round + 1} of ${rounds}`);
  if (threaded) checkMachine(round);
  /** Each runner's GFLOP/s on its last timed workload of this round (runner.ts skips hopeless cells by it). */
  const lastRate = new Map<string, number>();
  for (const w of WORKLOADS.filter((x) => workloads.includes(x.id))) {
    for (const r of roundOrder(runners, round)) {
      for (const line of child('runner.ts', [r, w.id, String(lastRate.get(r) ?? 0)])) {
        const c = JSON.parse(line) as Cell;
        if (c.gflops && !w.train) lastRate.set(r, c.gflops);
        const key = `${c.runner}|${c.workload}`;
        perRound.set(key, [...(perRound.get(key) ?? []), c]);
      }
    }
  }
  if (threaded) checkMachine(round);
  console.log('GEMM micro-benchmark');
  const gemmOfRound = child('gemm.ts', [gemmSizes]).map((l) => JSON.parse(l) as GemmCell);
  // The relaxed-SIMD build's kernel too, in a process with V8's flag (see extraFlags).
  gemmOfRound.push(...child('gemm.ts', [gemmSizes, 'wasm-only'], ['--experimental-wasm-relaxed-simd']).map((l) => JSON.parse(l) as GemmCell));
  gemmRounds.push(gemmOfRound);
}
const cells = [...perRound.values()].map(combineRounds);
const gemm = combineGemmRounds(gemmRounds);
const soakCalls = flag('memory') ? 10_000 : quick || custom ? 50 : 1000;
console.log(`\nMemory soak: ${soakCalls} forward calls of medium on wasm with 2 threads`);
const memory = child('memory.ts', [String(soakCalls)]).map((l) => JSON.parse(l));

// ---- tables
const byKey = new Map(cells.map((c) => [`${c.runner}|${c.workload}`, c]));
const get = (r: string, w: string) => byKey.get(`${r}|${w}`);
const fmtMs = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));
const ERR_OK = 1e-4;

function cellText(c: Cell | undefined): string {
  if (!c) return '';
  if (c.medianMs === undefined) return `— (${c.skipped})`;
  const err = c.maxAbsErr !== undefined && c.maxAbsErr > ERR_OK ? ` ⚠ err ${c.maxAbsErr.toExponential(1)}` : '';
  const runs = (c.runs ?? 0) < 10 ? ` (${c.runs} runs)` : '';
  const spread = (c as { spread?: number }).spread;
  const pm = spread !== undefined ? ` ±${(spread * 100).toFixed(0)}%` : '';
  const loss = c.loss ? ` · loss ${c.loss.first.toPrecision(3)} → ${c.loss.last.toPrecision(3)}` : '';
  const problem = c.loss ? lossProblem(c.loss) : null;
  return `${fmtMs(c.medianMs)} ms${pm} · ${c.gflops!.toFixed(1)} GF/s${runs}${loss}${err}${problem ? ` ⚠ ${problem}` : ''}`;
}

const lines: string[] = [];
const out = (s = '') => lines.push(s);
out(`| workload | ${runners.join(' | ')} |`);
out(`|---|${runners.map(() => '---').join('|')}|`);
for (const w of forwardWorkloads) out(`| ${w} | ${runners.map((r) => cellText(get(r, w))).join(' | ')} |`);
out('');
out(
  `Median ms per forward and GFLOP/s (multiply-add = 2 flops)${rounds > 1 ? `; with ${rounds} rounds, the median of the rounds' medians ± half their range` : ''}. ` +
    '⚠ marks outputs that differ from recur js by more than 1e-4 (max abs error).',
);

// Training steps, on the runners that train (the others' cells say 'inference only').
const trainers = runners.filter((r) => trainingWorkloads.some((w) => get(r, w) && get(r, w)!.skipped !== INFERENCE_ONLY));
const trainingLines = [`| workload | ${trainers.join(' | ')} |`, `|---|${trainers.map(() => '---').join('|')}|`];
for (const w of trainingWorkloads) trainingLines.push(`| ${w} | ${trainers.map((r) => cellText(get(r, w))).join(' | ')} |`);
/** Training step time / forward time of the same runner, in the same rounds. */
const trainOverForward = (r: string, w: string) => roundRatio(perRound.get(`${r}|${trainsOn.get(w)}`) ?? [], perRound.get(`${r}|${w}`) ?? []);
const perForward = trainingWorkloads.filter((w) => workloads.includes(trainsOn.get(w)!));
if (perForward.length > 0) {
  trainingLines.push('', `| training step / forward | ${perForward.map((w) => `${w} / ${trainsOn.get(w)}`).join(' | ')} |`);
  trainingLines.push(`|---|${perForward.map(() => '---').join('|')}|`);
  for (const r of trainers) {
    trainingLines.push(`| ${r} | ${perForward.map((w) => (trainOverForward(r, w) !== undefined ? `${trainOverForward(r, w)!.toFixed(2)}×` : '')).join(' | ')} |`);
  }
}

/** Peer time / recur time (with rounds, the median of the rounds' ratios). */
const ratio = (mine: string, peer: string, w: string) => roundRatio(perRound.get(`${mine}|${w}`) ?? [], perRound.get(`${peer}|${w}`) ?? []);

/** Why a cell has no time, for a target that needs it. */
const skippedText = (r: string, w: string) => (get(r, w)?.skipped ? `${r} on ${w}: ${get(r, w)!.skipped}` : undefined);
const ratioTarget = (label: string, mine: string, peer: string, w: string, need: number): Target => ({
  label,
  value: ratio(mine, peer, w),
  need,
  missing: skippedText(mine, w) ?? skippedText(peer, w),
});

const ratioLines: string[] = [];
const peers = runners.filter((r) => !r.startsWith('recur-'));
for (const mine of ['recur-wasm', 'recur-wasm-relaxed', 'recur-wasm-2t', 'recur-wasm-2t-relaxed', 'recur-js'].filter((r) => runners.includes(r))) {
  ratioLines.push(`| ${mine} vs | ${workloads.join(' | ')} |`, `|---|${workloads.map(() => '---').join('|')}|`);
  for (const p of peers) {
    const row = workloads.map((w) => {
      const r = ratio(mine, p, w);
      return r !== undefined ? `${r.toFixed(2)}×` : '';
    });
    ratioLines.push(`| ${p} | ${row.join(' | ')} |`);
  }
  ratioLines.push('');
}

/** 1 thread / 2 threads timed alternately inside the 2-thread runner's process: the median over the rounds. */
function pairedScaling(multi: string, w: string): number | undefined {
  const ratios = (perRound.get(`${multi}|${w}`) ?? []).flatMap((c) => (c.paired ? [c.paired.oneMs / c.paired.twoMs] : []));
  return ratios.length > 0 ? median(ratios) : undefined;
}

// Scaling: time on 1 thread / time on 2 threads of the same build and path, per workload.
const scalingPairs = [
  ['recur-wasm', 'recur-wasm-2t'],
  ['recur-wasm-relaxed', 'recur-wasm-2t-relaxed'],
  ['recur-wasm-frames', 'recur-wasm-frames-2t'],
].filter(([a, b]) => runners.includes(a!) && runners.includes(b!));
const scalingLines: string[] = [];
if (scalingPairs.length > 0) {
  scalingLines.push(`| 2 threads vs 1 | ${forwardWorkloads.join(' | ')} |`, `|---|${forwardWorkloads.map(() => '---').join('|')}|`);
  for (const [single, multi] of scalingPairs) {
    const row = forwardWorkloads.map((w) => {
      const r = ratio(multi!, single!, w);
      return r !== undefined ? `${r.toFixed(2)}×` : '';
    });
    scalingLines.push(`| ${multi} / ${single} | ${row.join(' | ')} |`);
  }
  for (const [, multi] of scalingPairs) {
    if (!forwardWorkloads.some((w) => pairedScaling(multi!, w) !== undefined)) continue;
    const row = forwardWorkloads.map((w) => {
      const r = pairedScaling(multi!, w);
      return r !== undefined ? `${r.toFixed(2)}×` : '';
    });
    scalingLines.push(`| ${multi}, paired in one process | ${row.join(' | ')} |`);
  }
  scalingLines.push('');
  if (scalingPairs.some(([, multi]) => forwardWorkloads.some((w) => pairedScaling(multi!, w) !== undefined))) {
    scalingLines.push(
      "Paired: the 2-thread runner's process also times the same model on one thread and on two alternately, in blocks of about 100 ms after an untimed call (`runner.ts`, `timePaired`); the row is the median over the rounds of its 1-thread median over its 2-thread median. Both sides then see the same minute of the machine, where the row above compares cells measured seconds to a minute apart in two processes.",
      '',
    );
  }
  if (machineChecks.length > 0) {
    const perRound = Array.from({ length: rounds }, (_, r) =>
      machineChecks
        .filter((m) => m.round === r)
        .map((m) => `${m.capacity.toFixed(2)}×`)
        .join(' → '),
    );
    scalingLines.push(
      `What two cores of this machine gave, at the start → end of each round (two independent single-threaded wasm GEMM loops in two processes at once, over one alone; no recur threading; \`src/machine.ts\`): ${perRound.map((p, r) => `round ${r + 1}: ${p}`).join('; ')}. ` +
        'No 2-thread speed-up measured in a round can exceed its figure.',
      '',
    );
  }
}

const targets: Target[] = [];
// The wasm targets hold for both builds: recur-wasm is what Node 20 runs, recur-wasm-relaxed what
// browsers and Node 22+ run. Training-step workloads are in `workloads` too: 4× tfjs-wasm and 10×
// tfjs-cpu per training step.
for (const mine of ['recur-wasm', 'recur-wasm-relaxed']) {
  for (const w of ['medium', 'gru-medium', 'rnn-medium']) targets.push(ratioTarget(`${mine} ≥ 2× ort-web-1t on ${w}`, mine, 'ort-web-1t', w, 2));
  targets.push(ratioTarget(`${mine} faster than ort-web-1t on large`, mine, 'ort-web-1t', 'large', 1));
  for (const w of workloads) targets.push(ratioTarget(`${mine} ≥ 4× tfjs-wasm on ${w}`, mine, 'tfjs-wasm', w, 4));
  targets.push(ratioTarget(`${mine} as fast as ort-node on stream`, mine, 'ort-node', 'stream', 1));
}
for (const w of workloads) targets.push(ratioTarget(`recur-js ≥ 10× tfjs-cpu on ${w}`, 'recur-js', 'tfjs-cpu', w, 10));
// Threads (issue 14): 2 threads against 1 of the same build, against ort-web's 2 threads and against
// onnxruntime-node's native single thread on the stream.
for (const [mine, single] of [
  ['recur-wasm-2t', 'recur-wasm'],
  ['recur-wasm-2t-relaxed', 'recur-wasm-relaxed'],
]) {
  for (const [w, need] of [['large', 1.8], ['medium', 1.7], ['gru-medium', 1.7], ['stream', 1.6]] as const) {
    targets.push(ratioTarget(`${mine} ≥ ${need}× ${single} on ${w}`, mine, single, w, need));
    if (pairedScaling(mine!, w) !== undefined) {
      targets.push({ label: `${mine} ≥ ${need}× ${single} on ${w}, paired in one process`, value: pairedScaling(mine!, w), need });
    }
  }
  for (const w of forwardWorkloads) targets.push(ratioTarget(`${mine} ≥ 1.5× ort-web-2t on ${w}`, mine, 'ort-web-2t', w, 1.5));
  targets.push(ratioTarget(`${mine} as fast as ort-node on stream`, mine, 'ort-node', 'stream', 1));
}
targets.push(ratioTarget('recur-wasm-frames-2t ≥ 1.6× recur-wasm-frames on stream', 'recur-wasm-frames-2t', 'recur-wasm-frames', 'stream', 1.6));
for (const mine of ['recur-wasm', 'recur-wasm-relaxed', 'recur-js']) {
  targets.push({
    label: `${mine}: a training step on medium ≤ 3× its forward`,
    value: trainOverForward(mine, 'train-medium'),
    need: 3,
    atMost: true,
    missing: skippedText(mine, 'train-medium') ?? skippedText(mine, 'medium'),
  });
}
const targetLines = ['| target | measured | met |', '|---|---|---|', ...targets.flatMap((t) => targetRow(t) ?? [])];

const gemmLines = ['| backend | n | ms | GFLOP/s |', '|---|---:|---:|---:|'];
for (const g of gemm) gemmLines.push(`| ${g.backend} | ${g.n} | ${fmtMs(g.medianMs)} | ${g.gflops.toFixed(1)} |`);
const memLines = memory.map(
  (m) =>
    `${m.calls} forward calls of medium on ${m.backend} in ${m.seconds.toFixed(0)} s: heap ${m.before.heapUsedMB.toFixed(1)} → ${m.after.heapUsedMB.toFixed(1)} MB, ` +
    `RSS ${m.before.rssMB.toFixed(1)} → ${m.after.rssMB.toFixed(1)} MB, wasm memory ${m.before.wasmMB.toFixed(1)} → ${m.after.wasmMB.toFixed(1)} MB` +
    (m.before.threads !== undefined
      ? `, kernel threads ${m.before.threads} → ${m.after.threads}, OS threads of the process ${m.before.osThreads} → ${m.after.osThreads}`
      : ''),
);

const notes = [...new Set(cells.filter((c) => c.note).map((c) => `- ${c.runner}: ${c.note}`))];
const versions = [...new Set(cells.map((c) => `${c.runner.replace(/-(1t|2t|frames)$/, '')} ${c.version}`))].sort();
const machine = `${cpus()[0]?.model ?? 'cpu'} × ${cpus().length}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${process.platform}-${process.arch}`;
let commit = '';
try {
  commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
} catch {
  // not a git checkout
}

const report = [
  `# recur benchmark${quick ? ' (quick)' : ''}`,
  '',
  `${new Date().toISOString()} · ${machine}${commit ? ` · commit ${commit}` : ''}`,
  `Command: \`pnpm bench${args.length ? ` ${args.join(' ')}` : ''}\` · versions: ${versions.join(', ')}`,
  '',
  ...(forwardWorkloads.length > 0 ? ['## Time per forward', '', ...lines, ''] : []),
  ...(trainingWorkloads.length > 0
    ? [
        '## Time per training step',
        '',
        ...trainingLines,
        '',
        `Median ms per training step (forward, backward and an Adam update per chunk: ${trainingWorkloads.map(describeTraining).join('; ')}) and nominal GFLOP/s (three forwards' flops), ` +
          `with the loss at the first and the last step of the run. ⚠ marks a non-finite loss, a loss not below the first after ${FEW_STEPS} optimizer steps, ` +
          `or first losses that differ from recur js's (relative: the first by more than ${FIRST_LOSS_REL_OK.toExponential(0)}, those of the first ${REFERENCE_STEPS} training steps by more than ${LOSS_REL_OK.toExponential(0)}).`,
        '',
      ]
    : []),
  `## Ratios (peer time / recur time: above 1× means recur is faster${rounds > 1 ? "; median of the rounds' ratios" : ''})`,
  '',
  ...ratioLines,
  ...(scalingLines.length > 0 ? ['## Threads: scaling (time on 1 thread / time on 2, same build; above 1× means 2 threads are faster)', '', ...scalingLines] : []),
  '## Targets',
  '',
  ...targetLines,
  '',
  '## GEMM (matmul primitive, square)',
  '',
  ...gemmLines,
  '',
  '## Memory',
  '',
  ...memLines,
  '',
  '## Notes',
  '',
  ...notes,
  '- recur-*-frames: the same stream fed one frame at a time through `module.stream().step()`.',
  '- recur-wasm-2t: the same kernels on 2 threads (a worker_threads worker over one shared memory); recur-wasm is 1 thread. Each call decides by the cost model measured at start-up whether it splits.',
  '- recur-wasm-relaxed: the relaxed-SIMD build (fused multiply-add), which browsers and Node 22+ run by default; Node 20 needs `--experimental-wasm-relaxed-simd`, given to that runner only. recur-wasm is what Node 20 runs.',
  '- ort-web and tfjs-wasm run their wasm builds inside Node 20 without flags; ort-web-2t uses 2 wasm threads.',
  ...(trainingWorkloads.length > 0
    ? [
        '- Training steps: recur (`lstm.forward`, `Linear`, `mseLoss`, `backward()`, `Adam` from @recur/optim; `detach()` of the state between chunks) and tfjs ' +
          '(LSTM + Dense(1), `model.trainOnBatch` with MSE and Adam, a stateful LSTM between chunks) start from the same weights with the same learning rate. ' +
          'tfjs has one LSTM bias (b_ih + b_hh), so after the first update its losses differ slightly from PyTorch\'s. The chart shows forward passes only.',
      ]
    : []),
  '',
  '## Raw results (JSON lines)',
  '',
  '```',
  ...cells.map((c) => JSON.stringify(c)),
  ...gemm.map((g) => JSON.stringify({ gemm: g })),
  ...machineChecks.map((m) => JSON.stringify({ machine: m })),
  ...memory.map((m) => JSON.stringify({ memory: m })),
  '```',
  '',
].join('\n');

console.log(`\n${report.split('## Raw results')[0]}`);
const dir = join(here, '..', 'results');
mkdirSync(dir, { recursive: true });
const kind = custom ? 'custom' : quick ? 'quick' : 'full';
const name = `${kind}-${new Date().toISOString().replace(/[:.]/g, '-')}.md`;
const svg = chartSvg(cells, runners, forwardWorkloads, gemm, `recur benchmark${quick ? ' (quick)' : ''} · ${machine}`);
writeFileSync(join(dir, name), report);
writeFileSync(join(dir, name.replace(/\.md$/, '.svg')), svg);
if (!custom) {
  writeFileSync(join(dir, quick ? 'latest-quick.md' : 'latest.md'), report);
  writeFileSync(join(dir, quick ? 'latest-quick.svg' : 'latest.svg'), svg);
}
console.log(`wrote bench/results/${name} and its chart (${((Date.now() - started) / 1000).toFixed(0)} s)`);
