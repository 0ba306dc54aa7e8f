// Memory soak: N forward calls of `medium` on recur's wasm backend with 2 threads, reporting JS heap,
// RSS, wasm memory and the process's OS threads before and after (they must stay flat: the worker pool
// is started once and reused). Usage: memory.ts <calls>; prints one JSON line.
// Inference, as the forward rows: under noGrad (a recording forward holds a training workspace until
// its backward).

import { readFileSync } from 'node:fs';
import { Tensor, noGrad, setBackend } from '@recur/core-tensor';
import type { LSTM } from '@recur/nn-recurrent';
import { buildModule, wasmBackends } from './runners/recur.js';
import { WORKLOADS, makeWeights } from './workloads.js';

const wasmBackend = wasmBackends.get(2)!;
await setBackend(wasmBackend.name);
/** OS threads of this process (Linux), or 0 where /proc is not there. */
const osThreads = () => {
  try {
    return Number(/^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
};
const calls = Number(process.argv[2] ?? 10_000);
const w = WORKLOADS.find((x) => x.id === 'medium')!;
const weights = makeWeights(w);
const m = buildModule(w, weights) as LSTM;
const x = new Tensor(weights.input, [w.seqLen, w.batch, w.inputSize]);
const sample = () => {
  globalThis.gc?.();
  const mem = process.memoryUsage();
  return {
    heapUsedMB: mem.heapUsed / 2 ** 20,
    rssMB: mem.rss / 2 ** 20,
    wasmMB: wasmBackend.memoryStats().bytes / 2 ** 20,
    threads: wasmBackend.threadInfo().active,
    osThreads: osThreads(),
  };
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
      `  memory: ${i}/${calls} calls, heap ${s.heapUsedMB.toFixed(1)} MB, rss ${s.rssMB.toFixed(1)} MB, wasm ${s.wasmMB.toFixed(1)} MB, ${s.threads} kernel threads, ${s.osThreads} OS threads\n`,
    );
  }
}
const after = sample();
process.stdout.write(`${JSON.stringify({ workload: 'medium', backend: wasmBackend.name, calls, seconds: (performance.now() - t0) / 1000, before, after })}\n`);
process.exit(0);
