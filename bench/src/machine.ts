// What two cores of this machine can give right now, with no recur threading involved: one thread's
// GEMM rate alone, then two independent single-threaded wasm backends (this process and a child
// process) running the same GEMM loop at once. `capacity` = their summed rate / the rate alone: the
// ceiling for any 2-thread speed-up measured at this moment. On a VM whose two vCPUs the host
// sometimes runs as the two hyperthreads of one core it drops well below 2 (README, "Threads").
// Prints one JSON line. Usage: machine.ts [n = 512] [ms = 1000]   (machine.ts --child n ms: the second loop)

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Generator } from '@recur/core-tensor';
import { createWasmBackend } from '@recur/kernels-wasm';

const backend = createWasmBackend({ name: 'wasm-machine-check', threads: 1 });

/** GFLOP/s of n×n matmuls on one single-threaded wasm backend, over about `ms` milliseconds. */
async function gemmRate(n: number, ms: number, whenWarm?: () => Promise<void>): Promise<number> {
  await backend.init();
  const g = new Generator(n);
  const a = Float32Array.from({ length: n * n }, () => g.uniform() - 0.5);
  const b = Float32Array.from({ length: n * n }, () => g.uniform() - 0.5);
  const out = new Float32Array(n * n);
  for (let i = 0; i < 3; i++) backend.matmul(a, b, n, n, n, { out });
  await whenWarm?.();
  let calls = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    backend.matmul(a, b, n, n, n, { out });
    calls++;
  }
  return (2 * n ** 3 * calls) / ((performance.now() - start) * 1e6);
}

if (process.argv[2] === '--child') {
  // Warm, say so, wait for the go line, run, print the rate.
  const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  const rate = await gemmRate(Number(process.argv[3]), Number(process.argv[4]), async () => {
    process.stdout.write('ready\n');
    await lines.next();
  });
  process.stdout.write(`${rate}\n`);
  process.exit(0);
}

const n = Number(process.argv[2] ?? 512);
const ms = Number(process.argv[3] ?? 1000);
// Alone before and after the pair, so a drift of the machine during the check weighs on both sides.
const before = await gemmRate(n, ms);
const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, '--child', String(n), String(ms)], { stdio: ['pipe', 'pipe', 'inherit'] });
const out = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
const mine = await gemmRate(n, ms, async () => {
  if ((await out.next()).value !== 'ready') throw new Error('the second GEMM loop did not start');
  child.stdin!.write('go\n');
});
const theirs = Number((await out.next()).value);
const alone = (before + (await gemmRate(n, ms))) / 2;
const capacity = (mine + theirs) / alone;
process.stderr.write(`  machine: one core ${alone.toFixed(1)} GFLOP/s alone; two at once ${mine.toFixed(1)} + ${theirs.toFixed(1)} = ${capacity.toFixed(2)}x one\n`);
process.stdout.write(`${JSON.stringify({ machine: { n, alone, together: [mine, theirs], capacity } })}\n`);
process.exit(0);
