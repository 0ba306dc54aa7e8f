// Training in the worker: a recurrent model learns to predict the next value of a sine wave with
// Adam, reporting its loss after every step; the trained weights come back as a .safetensors file
// PyTorch loads (`rnn.*` for the recurrent module, `head.*` for the Linear head).

import { type Tensor, noGrad, setBackend, tensor } from '@recur/core-tensor';
import { GRU, LSTM, Linear, mseLoss, saveSafetensors } from '@recur/nn-recurrent';
import { Adam, clipGradNorm } from '@recur/optim';
import type { TrainTask } from './protocol.js';

const T = 40;
const B = 8;

/** Windows of sin(t): inputs and next values, `[T, B, 1]` each. */
function sineData(): { x: Float32Array; y: Float32Array } {
  const x = new Float32Array(T * B);
  const y = new Float32Array(T * B);
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      const phase = 0.25 * (t + 5 * b);
      x[t * B + b] = Math.sin(phase);
      y[t * B + b] = Math.sin(phase + 0.25);
    }
  }
  return { x, y };
}

export async function train(
  task: TrainTask,
  onStep: (step: number, loss: number) => void,
): Promise<{ losses: number[]; ms: number; safetensors: Uint8Array; target: number[]; prediction: number[] }> {
  await setBackend(task.backend);
  const data = sineData();
  const x = tensor(data.x, [T, B, 1]);
  const y = tensor(data.y, [T, B, 1]);
  const rnn = task.kind === 'LSTM' ? new LSTM(1, task.hiddenSize, { seed: 1 }) : new GRU(1, task.hiddenSize, { seed: 1 });
  // Both return [output, state]; only the output is used.
  const outputOf = (t: Tensor) => (rnn instanceof LSTM ? rnn.forward(t)[0] : rnn.forward(t)[0]);
  const head = new Linear(task.hiddenSize, 1, { seed: 2 });
  const params = [...rnn.parameters(), ...head.parameters()];
  const opt = new Adam(params, { lr: task.lr });
  const losses: number[] = [];
  const t0 = performance.now();
  for (let step = 1; step <= task.steps; step++) {
    opt.zeroGrad();
    const out = outputOf(x);
    const loss = mseLoss(head.forward(out), y);
    loss.backward();
    clipGradNorm(params, 1.0);
    opt.step();
    losses.push(loss.values[0]!);
    onStep(step, loss.values[0]!);
    // Let progress messages leave the worker between steps.
    if (step % 5 === 0) await new Promise((r) => setTimeout(r, 0));
  }
  const ms = performance.now() - t0;
  const out = noGrad(() => outputOf(x));
  const pred = noGrad(() => head.forward(out)).values;
  const prefixed = (p: string, sd: Record<string, Tensor>) =>
    Object.fromEntries(Object.entries(sd).map(([k, v]) => [p + k, v]));
  const safetensors = saveSafetensors(
    { ...prefixed('rnn.', rnn.stateDict()), ...prefixed('head.', head.stateDict()) },
    { model: `${task.kind}(1, ${task.hiddenSize}) + Linear(${task.hiddenSize}, 1)`, task: 'next value of sin(t)' },
  );
  const column = (v: Float32Array) => Array.from({ length: T }, (_, t) => v[t * B]!);
  rnn.dispose();
  head.dispose();
  return { losses, ms, safetensors, target: column(data.y), prediction: column(pred) };
}
