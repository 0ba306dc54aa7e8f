// GEMM micro-benchmark per recur backend: GFLOP/s of the `matmul` primitive on square matrices
// (B is packed into the kernel's layout inside each call, as a one-off matmul has to).
// Usage: gemm.ts <size,...> [wasm-only]; prints one JSON line per (backend, size).

import { Generator, registerBackend, setBackend } from '@recur/core-tensor';
import { jsBackend } from '@recur/kernels-js';
import { wasmBackend } from '@recur/kernels-wasm';

registerBackend(jsBackend);
registerBackend(wasmBackend);

const sizes = (process.argv[2] ?? '256,512,1024').split(',').map(Number);
const backends = process.argv[3] === 'wasm-only' ? [wasmBackend] : [wasmBackend, jsBackend];
for (const backend of backends) {
  await setBackend(backend.name);
  for (const n of sizes) {
    const g = new Generator(n);
    const a = Float32Array.from({ length: n * n }, () => g.uniform() - 0.5);
    const b = Float32Array.from({ length: n * n }, () => g.uniform() - 0.5);
    const out = new Float32Array(n * n);
    backend.matmul(a, b, n, n, n, { out });
    const times: number[] = [];
    const start = performance.now();
    while (times.length < 5 || (performance.now() - start < 1000 && times.length < 50)) {
      const s = performance.now();
      backend.matmul(a, b, n, n, n, { out });
      times.push(performance.now() - s);
    }
    times.sort((x, y) => x - y);
    const ms = times[Math.floor(times.length / 2)]!;
    const name = backend === wasmBackend ? `wasm (${wasmBackend.kernelVariant()})` : backend.name;
    const cell = { backend: name, n, medianMs: ms, gflops: (2 * n ** 3) / ms / 1e6, runs: times.length };
    process.stderr.write(`  gemm ${name.padEnd(18)} ${String(n).padStart(4)}: ${ms.toFixed(2)} ms, ${cell.gflops.toFixed(1)} GFLOP/s\n`);
    process.stdout.write(`${JSON.stringify(cell)}\n`);
  }
}
process.exit(0);
