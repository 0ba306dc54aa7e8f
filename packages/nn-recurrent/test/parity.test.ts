// PyTorch parity on every fixture, once per backend: outputs and final states must agree with
// what torch produced within the suite's one tolerance (ATOL + RTOL * |expected|).

import { ATOL, RTOL, compareClose } from '@recur/conformance';
import { Tensor, setBackend } from '@recur/core-tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GRU, type GRUCell, LSTM, LSTMCell, type RNN, type RNNCell, packPaddedSequence, padPackedSequence } from '../src/index.js';
import { BACKENDS } from './backends.js';
import { buildModule, fixtureNames, loadFixture } from './fixtures.js';

function expectClose(what: string, actual: Tensor, expected: Tensor): void {
  expect(actual.shape, `${what} shape`).toEqual(expected.shape);
  const r = compareClose(actual.values, expected.values, ATOL, RTOL);
  expect(r.pass, `${what}: max abs error ${r.worst} at ${r.index} (got ${r.actual}, expected ${r.expected})`).toBe(true);
}

/** Largest error seen per backend, printed once so a run shows how close recur is to PyTorch. */
const worst = new Map<string, { err: number; fixture: string }>();

function track(backend: string, fixture: string, actual: Tensor, expected: Tensor): void {
  const r = compareClose(actual.values, expected.values);
  const w = worst.get(backend);
  if (!w || r.worst > w.err) worst.set(backend, { err: r.worst, fixture });
}

describe.each(BACKENDS.map((b) => b.name))('PyTorch parity on %s', (backend) => {
  beforeAll(async () => {
    await setBackend(backend);
  });

  it.each(fixtureNames())('%s', (name) => {
    const f = loadFixture(name);
    const m = buildModule(f);
    const { input, h0, c0, output, h_n, c_n } = f.tensors as Record<string, Tensor>;
    if (f.kind === 'packed') {
      const batchFirst = f.options.batchFirst === true;
      const lengths = Array.from(f.tensors.lengths!.values);
      const enforceSorted = (JSON.parse(f.note) as { enforceSorted: boolean }).enforceSorted;
      const packed = packPaddedSequence(input!, lengths, { batchFirst, enforceSorted });
      expect(Array.from(packed.batchSizes)).toEqual(Array.from(f.tensors.batch_sizes!.values));
      let outP: ReturnType<typeof packPaddedSequence>;
      let hN: Tensor;
      let cN: Tensor | undefined;
      if (m instanceof LSTM) [outP, [hN, cN]] = m.forward(packed, h0 ? [h0, c0!] : undefined);
      else [outP, hN] = (m as RNN | GRU).forward(packed, h0);
      const [out, outLengths] = padPackedSequence(outP, { batchFirst });
      expect(outLengths).toEqual(lengths);
      expectClose('output', out, output!);
      expectClose('h_n', hN, h_n!);
      if (c_n) expectClose('c_n', cN!, c_n);
      track(backend, name, out, output!);
      track(backend, name, hN, h_n!);
    } else if (f.kind === 'module') {
      let out: Tensor;
      let hN: Tensor;
      let cN: Tensor | undefined;
      if (m instanceof LSTM) {
        [out, [hN, cN]] = m.forward(input!, h0 ? [h0, c0!] : undefined);
      } else {
        [out, hN] = (m as RNN | GRU).forward(input!, h0);
      }
      expectClose('output', out, output!);
      expectClose('h_n', hN, h_n!);
      if (c_n) expectClose('c_n', cN!, c_n);
      track(backend, name, out, output!);
      track(backend, name, hN, h_n!);
    } else {
      const steps = input!.shape[0]!;
      const stepSize = input!.size / steps;
      const rest = input!.shape.slice(1);
      let h: Tensor | undefined = h0;
      let c: Tensor | undefined = c0;
      const hs: number[] = [];
      for (let t = 0; t < steps; t++) {
        const xt = new Tensor(input!.values.slice(t * stepSize, (t + 1) * stepSize), rest);
        if (m instanceof LSTMCell) {
          const [hn, cn] = m.forward(xt, h && c ? [h, c] : undefined);
          h = hn;
          c = cn;
        } else {
          h = (m as RNNCell | GRUCell).forward(xt, h);
        }
        hs.push(...h.values);
      }
      const stacked = new Tensor(Float32Array.from(hs), output!.shape);
      expectClose('output', stacked, output!);
      expectClose('h_n', h!, h_n!);
      if (c_n) expectClose('c_n', c!, c_n);
      track(backend, name, stacked, output!);
    }
  });

  afterAll(() => {
    const w = worst.get(backend);
    if (w) console.log(`[parity] ${backend}: worst abs error vs PyTorch ${w.err.toExponential(2)} (${w.fixture})`);
  });
});
