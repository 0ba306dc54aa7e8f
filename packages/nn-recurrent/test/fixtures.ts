// Loads the PyTorch fixtures written by scripts/gen-fixtures.py and builds the module each describes.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Tensor } from '@recur/core-tensor';
import { GRU, GRUCell, LSTM, LSTMCell, RNN, RNNCell, packPaddedSequence, padPackedSequence, readSafetensors } from '../src/index.js';

const DIR = fileURLToPath(new URL('../fixtures/', import.meta.url));

export interface Fixture {
  name: string;
  module: 'RNN' | 'LSTM' | 'GRU' | 'RNNCell' | 'LSTMCell' | 'GRUCell';
  kind: 'module' | 'cell_steps' | 'packed';
  note: string;
  options: Record<string, unknown>;
  params: Record<string, Tensor>;
  tensors: Record<string, Tensor>;
}

export function fixtureNames(): string[] {
  return (JSON.parse(readFileSync(`${DIR}index.json`, 'utf8')) as { fixtures: string[] }).fixtures;
}

export function fixtureBytes(name: string): Uint8Array {
  return new Uint8Array(readFileSync(`${DIR}${name}.safetensors`));
}

export function loadFixture(name: string): Fixture {
  const { tensors, metadata } = readSafetensors(fixtureBytes(name));
  const params: Record<string, Tensor> = {};
  const rest: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(tensors)) {
    if (k.startsWith('param.')) params[k.slice('param.'.length)] = v;
    else rest[k] = v;
  }
  return {
    name,
    module: metadata.module as Fixture['module'],
    kind: metadata.kind as Fixture['kind'],
    options: JSON.parse(metadata.options ?? '{}') as Record<string, unknown>,
    note: metadata.note ?? '',
    params,
    tensors: rest,
  };
}

const CONSTRUCTORS = { RNN, LSTM, GRU, RNNCell, LSTMCell, GRUCell };

/** A module configured as the fixture says, with the fixture's weights, in eval mode. */
export function buildModule(f: Fixture) {
  const Ctor = CONSTRUCTORS[f.module] as new (o: unknown) => InstanceType<(typeof CONSTRUCTORS)[typeof f.module]>;
  const m = new Ctor({ ...f.options, seed: 0 });
  m.loadStateDict(f.params);
  m.eval();
  return m;
}

/** What a fixture's module computes on the current backend, in the shapes PyTorch saved them. */
export interface FixtureRun {
  /** The output (padded back for packed input; the stacked states of the steps for a cell). */
  output: Tensor;
  hN: Tensor;
  cN?: Tensor;
  /** Packed input: the batch sizes of the packed input and the lengths padPackedSequence gave back. */
  batchSizes?: number[];
  lengths?: number[];
}

/** Runs the fixture's module on its input (packed, whole-sequence, or a cell step by step). */
export function runFixture(f: Fixture): FixtureRun {
  const m = buildModule(f);
  const { input, h0, c0 } = f.tensors as Record<string, Tensor>;
  if (f.kind === 'packed') {
    const batchFirst = f.options.batchFirst === true;
    const lengths = Array.from(f.tensors.lengths!.values);
    const enforceSorted = (JSON.parse(f.note) as { enforceSorted: boolean }).enforceSorted;
    const packed = packPaddedSequence(input!, lengths, { batchFirst, enforceSorted });
    let outP: ReturnType<typeof packPaddedSequence>;
    let hN: Tensor;
    let cN: Tensor | undefined;
    if (m instanceof LSTM) [outP, [hN, cN]] = m.forward(packed, h0 ? [h0, c0!] : undefined);
    else [outP, hN] = (m as RNN | GRU).forward(packed, h0);
    const [output, outLengths] = padPackedSequence(outP, { batchFirst });
    return { output, hN, cN, batchSizes: Array.from(packed.batchSizes), lengths: outLengths };
  }
  if (f.kind === 'module') {
    if (m instanceof LSTM) {
      const [output, [hN, cN]] = m.forward(input!, h0 ? [h0, c0!] : undefined);
      return { output, hN, cN };
    }
    const [output, hN] = (m as RNN | GRU).forward(input!, h0);
    return { output, hN };
  }
  const steps = input!.shape[0]!;
  const stepSize = input!.size / steps;
  const rest = input!.shape.slice(1);
  let h: Tensor | undefined = h0;
  let c: Tensor | undefined = c0;
  const hs: number[] = [];
  for (let t = 0; t < steps; t++) {
    const xt = new Tensor(input!.values.slice(t * stepSize, (t + 1) * stepSize), rest);
    if (m instanceof LSTMCell) {
      [h, c] = m.forward(xt, h && c ? [h, c] : undefined);
    } else {
      h = (m as RNNCell | GRUCell).forward(xt, h);
    }
    hs.push(...h.values);
  }
  return { output: new Tensor(Float32Array.from(hs), f.tensors.output!.shape), hN: h!, cN: c };
}
