// One script, three runtimes: `node index.js`, `bun index.js`, `deno run index.js` (Deno reads the
// packages from node_modules/, installed by npm install, through package.json). Each prints the
// backend it picked and a checksum of a seeded GRU's output: the same numbers on every runtime, to
// float32 rounding (an engine with relaxed SIMD gets kernels with fused multiply-adds).
import { getBackend, randn, ready, registerBackend } from '@recur/core-tensor';
import { wasmBackend } from '@recur/kernels-wasm';
import { GRU } from '@recur/nn-recurrent';

const runtime = globalThis.Deno ? `Deno ${Deno.version.deno}` : globalThis.Bun ? `Bun ${Bun.version}` : `Node ${process.versions.node}`;

registerBackend(wasmBackend);
await ready(); // wasm SIMD where the engine has it, else the js backend

const gru = new GRU({ inputSize: 4, hiddenSize: 8, numLayers: 2, seed: 0 });
gru.eval();
const [out, hN] = gru.forward(randn([10, 2, 4], { seed: 1 }));
const sum = out.dataSync().reduce((a, b) => a + b, 0);

console.log(`${runtime}: backend ${getBackend()}, output [${out.shape.join(', ')}], h_n [${hN.shape.join(', ')}]`);
console.log(`checksum ${sum.toFixed(5)}`);
