// PyTorch parity on every fixture, once per backend: outputs and final states must agree with
// what torch produced within the suite's one tolerance (ATOL + RTOL * |expected|).

import { ATOL, RTOL, compareClose } from '@recur/conformance';
import { type Tensor, setBackend } from '@recur/core-tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from './backends.js';
import { fixtureNames, loadFixture, runFixture } from './fixtures.js';

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
    const { output, h_n, c_n } = f.tensors as Record<string, Tensor>;
    const r = runFixture(f);
    if (f.kind === 'packed') {
      expect(r.batchSizes).toEqual(Array.from(f.tensors.batch_sizes!.values));
      expect(r.lengths).toEqual(Array.from(f.tensors.lengths!.values));
    }
    expectClose('output', r.output, output!);
    expectClose('h_n', r.hN, h_n!);
    if (c_n) expectClose('c_n', r.cN!, c_n);
    track(backend, name, r.output, output!);
    if (f.kind !== 'cell_steps') track(backend, name, r.hN, h_n!);
  });

  afterAll(() => {
    const w = worst.get(backend);
    if (w) console.log(`[parity] ${backend}: worst abs error vs PyTorch ${w.err.toExponential(2)} (${w.fixture})`);
  });
});
