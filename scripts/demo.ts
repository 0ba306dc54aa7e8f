// The main Node demo: runs the seed examples on the current backend and prints their shapes, a few
// values and PyTorch's identities between `output` and `h_n`. Run with `pnpm demo`.

import { Tensor, backendStatus, getBackend, listBackends, randn, ready, registerBackend, zeros } from '@recur/core-tensor';
import { wasmBackend } from '@recur/kernels-wasm';
import { GRU, LSTM, RNN, RNNCell } from '@recur/nn-recurrent';

const shape = (t: Tensor) => `[${t.shape.join(', ')}]`;
const first = (v: Float32Array, n = 4) => `${Array.from(v.subarray(0, n), (x) => x.toFixed(4)).join(', ')}, ...`;

/** Values of t[i] along the first axis (negative from the end). */
function row(t: Tensor, i: number): Float32Array {
  const n = t.shape[0]!;
  const stride = t.size / n;
  const k = i < 0 ? n + i : i;
  return t.values.subarray(k * stride, (k + 1) * stride);
}

/** Columns [from, from + count) of each row of width `width`. */
function cols(v: Float32Array, width: number, from: number, count: number): Float32Array {
  const out = new Float32Array((v.length / width) * count);
  for (let r = 0; r < v.length / width; r++) out.set(v.subarray(r * width + from, r * width + from + count), r * count);
  return out;
}

const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((x, i) => x === b[i]);
const check = (label: string, ok: boolean) => console.log(`    ${ok ? '✓' : '✗'} ${label}`);
let failures = 0;
const identity = (label: string, a: Float32Array, b: Float32Array) => {
  const ok = same(a, b);
  if (!ok) failures++;
  check(label, ok);
};

registerBackend(wasmBackend);
await ready();
console.log(`recur demo: backend '${getBackend()}' (registered: ${listBackends().join(', ')})`);
for (const s of backendStatus()) if (s.state === 'failed') console.log(`  ${s.name} unavailable: ${String(s.error)}`);
console.log('');

for (const numLayers of [1, 3]) {
  const rnn = new RNN(5, 10, numLayers, { seed: 0 });
  const x = randn([6, 3, 5], { seed: 0 });
  const [out, hN] = rnn.forward(x);
  console.log(`${rnn} on ${shape(x)}: output ${shape(out)}, h_n ${shape(hN)}`);
  console.log(`    output[-1][0] = ${first(row(out, -1))}`);
  identity('output[-1] == h_n[-1] (last layer, forward direction)', row(out, -1), row(hN, -1));
}

for (const numLayers of [1, 2]) {
  const bi = new RNN(5, 10, numLayers, { bidirectional: true, seed: 0 });
  const [out, hN] = bi.forward(randn([6, 3, 5], { seed: 0 }));
  console.log(`${bi} on [6, 3, 5]: output ${shape(out)} (forward then reverse), h_n ${shape(hN)}`);
  identity('output[-1, :, :10] == h_n[-2] (forward direction ends at the last step)', cols(row(out, -1), 20, 0, 10), row(hN, -2));
  identity('output[0, :, 10:] == h_n[-1] (reverse direction ends at the first step)', cols(row(out, 0), 20, 10, 10), row(hN, -1));
  check('output[-1, :, 10:] != h_n[-1] (so output[-1] == h_n[-1] holds only forward)', !same(cols(row(out, -1), 20, 10, 10), row(hN, -1)));
}

{
  const lstm = new LSTM({ inputSize: 50, hiddenSize: 100, numLayers: 2, seed: 0 });
  const [out, [h, c]] = lstm.forward(randn([10, 3, 50], { seed: 0 }));
  console.log(`${lstm} on [10, 3, 50]: output ${shape(out)}, h_n ${shape(h)}, c_n ${shape(c)}`);
  identity('output[-1] == h_n[-1]', row(out, -1), row(h, -1));
}

{
  const gru = new GRU(10, 20, 2, { seed: 0 });
  const [out, hN] = gru.forward(randn([3, 32, 10], { seed: 0 }));
  console.log(`${gru} on [3, 32, 10]: output ${shape(out)}, h_n ${shape(hN)}`);
  identity('output[-1] == h_n[-1]', row(out, -1), row(hN, -1));
}

{
  const lstm = new LSTM(3, 5, { batchFirst: true, seed: 0 });
  const [out, [h, c]] = lstm.forward(randn([1, 10, 3], { seed: 0 }));
  console.log(`${lstm} on [1, 10, 3]: output ${shape(out)} (batch first), h_n ${shape(h)}, c_n ${shape(c)} (never batch first)`);
  identity('output[0, -1] == h_n[-1, 0]', row(outRow(out), -1), row(h, -1));
}

{
  const cell = new RNNCell(4, 2, { seed: 0 });
  const x = randn([6, 3, 4], { seed: 0 });
  let h = zeros([3, 2]);
  console.log(`${cell.constructor.name}(4, 2) stepped by hand over [6, 3, 4]:`);
  for (let t = 0; t < 6; t++) {
    h = cell.forward(new Tensor(row(x, t).slice(), [3, 4]), h);
    console.log(`    t=${t}: h ${shape(h)} = ${first(h.values, 6)}`);
  }
}

/** [B, T, F] output of a batch-first module seen as its only batch entry's [T, F]. */
function outRow(t: Tensor): Tensor {
  return t.reshape(t.shape.slice(1));
}

console.log(failures === 0 ? '\nAll identities hold.' : `\n${failures} identities failed.`);
process.exitCode = failures === 0 ? 0 : 1;
