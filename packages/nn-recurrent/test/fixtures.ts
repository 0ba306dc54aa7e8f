// Loads the PyTorch fixtures written by scripts/gen-fixtures.py and builds the module each describes.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Tensor } from '@recur/core-tensor';
import { GRU, GRUCell, LSTM, LSTMCell, RNN, RNNCell, readSafetensors } from '../src/index.js';

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
