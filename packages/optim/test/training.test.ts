// Two short training runs reproduce PyTorch's (fixtures from
// packages/nn-recurrent/scripts/gen-grad-fixtures.py), on every backend: an LSTM regressor with Adam
// and gradient clipping, and an Embedding + 2-layer GRU character model with SGD momentum. Per-step
// losses and the final weights stay within PyTorch's own float32-vs-float64 divergence.

import { readFileSync } from 'node:fs';
import { type Tensor, registerBackend, setBackend, tensor } from '@recur/core-tensor';
import { jsBackend } from '@recur/kernels-js';
import { createWasmBackend } from '@recur/kernels-wasm';
import { Embedding, GRU, LSTM, Linear, type Module, crossEntropy, mseLoss } from '@recur/nn-recurrent';
import { describe, expect, it } from 'vitest';
import { Adam, SGD, clipGradNorm } from '../src/index.js';

interface Arr {
  shape: number[];
  data: number[];
}
type Expected = Arr & { atol: number };
const load = (name: string) =>
  JSON.parse(readFileSync(new URL(`../../nn-recurrent/fixtures/grad/${name}.json`, import.meta.url), 'utf8')) as {
    params: Record<string, Arr>;
    expected: Record<string, Expected>;
    [k: string]: unknown;
  };
const t = (a: Arr) => tensor(a.data, a.shape);

const wasm = createWasmBackend({ name: 'wasm' });
registerBackend(jsBackend);
registerBackend(wasm);

function loadInto(m: Module, params: Record<string, Arr>, prefix: string): void {
  m.loadStateDict(
    Object.fromEntries(Object.entries(params).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), t(v)])),
  );
}

function expectWithin(got: ArrayLike<number>, e: Expected, label: string): void {
  let worst = 0;
  for (let i = 0; i < e.data.length; i++) worst = Math.max(worst, Math.abs(got[i]! - e.data[i]!));
  expect(worst <= e.atol, `${label}: |recur - PyTorch float64| = ${worst} exceeds ${e.atol.toExponential(2)}`).toBe(true);
}

function finalWeights(f: ReturnType<typeof load>, modules: Record<string, Module>): void {
  for (const [prefix, m] of Object.entries(modules)) {
    for (const [name, p] of m.namedParameters()) expectWithin(p.values, f.expected[`final.${prefix}.${name}`]!, `${prefix}.${name}`);
  }
}

describe.each([['js'], ['wasm']] as const)('training runs as PyTorch on %s', (backend) => {
  it('LSTM regressor, Adam, clipGradNorm(1.0)', async () => {
    await setBackend(backend);
    const f = load('train_lstm_regressor');
    const lstm = new LSTM(3, 8, { seed: 0 });
    const head = new Linear(8, 1, { seed: 0 });
    loadInto(lstm, f.params, 'lstm.');
    loadInto(head, f.params, 'head.');
    const params = [...lstm.parameters(), ...head.parameters()];
    const opt = new Adam(params, { lr: 0.01 });
    const x = t(f.x as Arr);
    const y = t(f.y as Arr);
    const losses: number[] = [];
    const norms: number[] = [];
    for (let s = 0; s < (f.steps as number); s++) {
      opt.zeroGrad();
      const [out] = lstm.forward(x);
      const loss = mseLoss(head.forward(out), y);
      loss.backward();
      norms.push(clipGradNorm(params, 1.0));
      opt.step();
      losses.push(loss.values[0]!);
    }
    expectWithin(losses, f.expected.losses!, 'losses');
    expectWithin(norms, f.expected.norms!, 'norms');
    finalWeights(f, { lstm, head });
    expect(losses[losses.length - 1]!).toBeLessThan(losses[0]! / 2);
  });

  it('Embedding + 2-layer GRU character model, SGD momentum', async () => {
    await setBackend(backend);
    const f = load('train_char_gru');
    const [T, B] = [f.T as number, f.B as number];
    const emb = new Embedding(10, 6, { seed: 0 });
    const gru = new GRU(6, 12, 2, { seed: 0 });
    const head = new Linear(12, 10, { seed: 0 });
    loadInto(emb, f.params, 'emb.');
    loadInto(gru, f.params, 'gru.');
    loadInto(head, f.params, 'head.');
    const opt = new SGD([...emb.parameters(), ...gru.parameters(), ...head.parameters()], { lr: 0.5, momentum: 0.9 });
    const input = tensor(f.input as number[], [T, B]);
    const target = Int32Array.from(f.target as number[]);
    const losses: number[] = [];
    for (let s = 0; s < (f.steps as number); s++) {
      opt.zeroGrad();
      const [out] = gru.forward(emb.forward(input));
      const loss: Tensor = crossEntropy(head.forward(out).reshape([T * B, 10]), target);
      loss.backward();
      opt.step();
      losses.push(loss.values[0]!);
    }
    expectWithin(losses, f.expected.losses!, 'losses');
    finalWeights(f, { emb, gru, head });
  });
});
