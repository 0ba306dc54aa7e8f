// The training demo: an LSTM learns to predict the next value of a sine wave in the terminal, with
// its loss falling step by step, then saves its weights as .safetensors that PyTorch loads with
// safetensors.torch.load_file. Run with `pnpm demo:train`.

import { writeFileSync } from 'node:fs';
import { getBackend, noGrad, ready, registerBackend, tensor } from '@recur/core-tensor';
import { wasmBackend } from '@recur/kernels-wasm';
import { LSTM, Linear, mseLoss, saveSafetensors } from '@recur/nn-recurrent';
import { Adam, clipGradNorm } from '@recur/optim';

registerBackend(wasmBackend);
await ready();

// 8 windows of 40 steps of sin(t); the target is each next value.
const [T, B] = [40, 8];
const xs = new Float32Array(T * B);
const ys = new Float32Array(T * B);
for (let t = 0; t < T; t++) {
  for (let b = 0; b < B; b++) {
    const phase = 0.25 * (t + 5 * b);
    xs[t * B + b] = Math.sin(phase);
    ys[t * B + b] = Math.sin(phase + 0.25);
  }
}
const x = tensor(xs, [T, B, 1]);
const y = tensor(ys, [T, B, 1]);

const lstm = new LSTM(1, 24, { seed: 1 });
const head = new Linear(24, 1, { seed: 2 });
const params = [...lstm.parameters(), ...head.parameters()];
const opt = new Adam(params, { lr: 0.01 });

console.log(`recur training demo on the '${getBackend()}' backend: LSTM(1, 24) + Linear(24, 1), next value of a sine wave\n`);
const steps = 150;
let first = 0;
let last = 0;
for (let step = 1; step <= steps; step++) {
  opt.zeroGrad();
  const [out] = lstm.forward(x);
  const loss = mseLoss(head.forward(out), y);
  loss.backward();
  clipGradNorm(params, 1.0);
  opt.step();
  last = loss.values[0]!;
  if (step === 1) first = last;
  if (step === 1 || step % 10 === 0) {
    const bar = '█'.repeat(Math.max(1, Math.round((40 * Math.log10(last / 1e-5)) / Math.log10(first / 1e-5))));
    console.log(`  step ${String(step).padStart(3)}  loss ${last.toExponential(3)}  ${bar}`);
  }
}

const [out] = noGrad(() => lstm.forward(x));
const pred = noGrad(() => head.forward(out)).values;
console.log(`\n  sin(t + 0.25) vs prediction, last steps of window 0:`);
for (let t = T - 4; t < T; t++) console.log(`    ${ys[t * B]!.toFixed(4).padStart(8)}  ${pred[t * B]!.toFixed(4).padStart(8)}`);

const file = 'sine-lstm.safetensors';
writeFileSync(file, saveSafetensors({ ...prefixed('rnn.', lstm.stateDict()), ...prefixed('head.', head.stateDict()) }));
console.log(`\n  loss ${first.toExponential(2)} -> ${last.toExponential(2)}; weights saved to ${file} (safetensors.torch.load_file reads it)`);
if (!(last < first / 10)) {
  console.error('  the loss did not fall tenfold');
  process.exitCode = 1;
}

function prefixed<T>(prefix: string, sd: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(sd).map(([k, v]) => [prefix + k, v]));
}
