// Memory soak: N forward calls of `medium` on recur's wasm backend, reporting JS heap, RSS and wasm
// memory before and after (they must stay flat). Usage: memory.ts <calls>; prints one JSON line.
// Inference, as the forward rows: under noGrad (a recording forward holds a training workspace until
// its backward).

import { Tensor, noGrad, registerBackend, setBackend } from '@recur/core-tensor';
import { wasmBackend } from '@recur/kernels-wasm';
import type { LSTM } from '@recur/nn-recurrent';
import { buildModule } from './runners/recur.js';
import { WORKLOADS, makeWeights } from './workloads.js';

registerBackend(wasmBackend);
await setBackend('wasm');
const calls = Number(process.argv[2] ?? 10_000);
const w = WORKLOADS.find((x) => x.id === 'medium')!;
const weights = makeWeights(w);
const m = buildModule(w, weights) as LSTM;
const x = new Tensor(weights.input, [w.seqLen, w.batch, w.inputSize]);
const sample = () => {
  globalThis.gc?.();
  const mem = process.memoryUsage();
  return { heapUsedMB: mem.heapUsed / 2 ** 20, rssMB: mem.rss / 2 ** 20, wasmMB: wasmBackend.memoryStats().bytes / 2 ** 20 };
};
const forward = () => noGrad(() => m.forward(x));
for (let i = 0; i < 20; i++) forward();
const before = sample();
const t0 = performance.now();
for (let i = 1; i <= calls; i++) {
  forward();
  if (i % Math.max(1, Math.floor(calls / 10)) === 0) {
    const s = sample();
    process.stderr.write(
      `  memory: ${i}/${calls} calls, heap ${s.heapUsedMB.toFixed(1)} MB, rss ${s.rssMB.toFixed(1)} MB, wasm ${s.wasmMB.toFixed(1)} MB\n`,
    );
  }
}
const after = sample();
process.stdout.write(`${JSON.stringify({ workload: 'medium', backend: 'wasm', calls, seconds: (performance.now() - t0) / 1000, before, after })}\n`);
process.exit(0);
