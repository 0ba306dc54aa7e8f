// Training: an LSTM with a linear head learns to predict the next value of a sine wave, with Adam
// and gradient clipping; the weights are saved as .safetensors (PyTorch reads them with
// safetensors.torch.load_file) and read back into a fresh model, which predicts the same.
//
// Run: npm start

import { readFileSync, writeFileSync } from 'node:fs';
import { getBackend, noGrad, ready, registerBackend, tensor } from '@recur/core-tensor';
import { wasmBackend } from '@recur/kernels-wasm';
import { LSTM, Linear, loadSafetensors, mseLoss, saveSafetensors } from '@recur/nn-recurrent';
import { Adam, clipGradNorm } from '@recur/optim';

registerBackend(wasmBackend);
await ready();

// 8 windows of 40 steps of sin(t), [T, B, 1]; the target is each next value.
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

const lstm = new LSTM(1, 24, { seed: 1 }); // parameters require grad, as in PyTorch
const head = new Linear(24, 1, { seed: 2 });
const params = [...lstm.parameters(), ...head.parameters()];
const opt = new Adam(params, { lr: 0.01 });

console.log(`training LSTM(1, 24) + Linear(24, 1) on the '${getBackend()}' backend`);
let first = 0;
let last = 0;
for (let step = 1; step <= 150; step++) {
  opt.zeroGrad();
  const [out] = lstm.forward(x);
  const loss = mseLoss(head.forward(out), y);
  loss.backward();
  clipGradNorm(params, 1.0);
  opt.step();
  last = loss.values[0];
  if (step === 1) first = last;
  if (step === 1 || step % 25 === 0) console.log(`step ${String(step).padStart(3)}  loss ${last.toExponential(3)}`);
}

// Save in PyTorch's names: model.rnn.* and model.head.* for a module with `rnn` and `head` members.
const file = 'sine-lstm.safetensors';
const stateDict = { ...prefixed('rnn.', lstm.stateDict()), ...prefixed('head.', head.stateDict()) };
writeFileSync(file, saveSafetensors(stateDict));

// Read the file back into fresh modules: the same predictions.
const saved = loadSafetensors(readFileSync(file));
const lstm2 = new LSTM(1, 24);
const head2 = new Linear(24, 1);
lstm2.loadStateDict(saved, { prefix: 'rnn.' });
head2.loadStateDict(saved, { prefix: 'head.' });
const predict = (rnn, linear) => noGrad(() => linear.forward(rnn.forward(x)[0])).values;
const [before, after] = [predict(lstm, head), predict(lstm2, head2)];
const same = before.every((v, i) => v === after[i]);

console.log(`loss ${first.toExponential(2)} -> ${last.toExponential(2)}; weights saved to ${file}, reloaded ${same ? 'with identical predictions' : 'with DIFFERENT predictions'}`);
if (!(last < first / 10) || !same) {
  console.error(!same ? 'the reloaded model predicts differently' : 'the loss did not fall tenfold');
  process.exitCode = 1;
}

function prefixed(prefix, stateDict) {
  return Object.fromEntries(Object.entries(stateDict).map(([k, v]) => [prefix + k, v]));
}
