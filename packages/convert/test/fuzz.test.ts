// Thousands of mutants of real files for each loader (seeded, so a failure reproduces): each one
// either loads into well-formed tensors and modules or throws a RecurError, quickly, and never
// holds on to more memory than a small multiple of the file. Plus the hostile size claims each
// format allows (a zip entry, a pickle shape, an ONNX dims list, a Keras shape), refused at once.

import { RecurError, Tensor } from '@recur/core-tensor';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromKeras, fromOnnx, loadTorch } from '../src/index.js';
import { fixtureBytes, fixtureJson } from './fixtures.js';

/** A mutation of a file: flip, overwrite or insert bytes, cut it, or repeat a stretch of it. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('interesting' as const), at: fc.nat(), value: fc.constantFrom(0, 0xff, 0x7f, 0x80, 0xffffffff, 0x7fffffff, 0x80000000) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(file: Uint8Array, mutations: Mutation[]): Uint8Array {
  let out = file.slice();
  for (const m of mutations) {
    const at = out.length ? m.at % out.length : 0;
    if (m.kind === 'flip') out[at] = out[at]! ^ (1 << m.bit);
    else if (m.kind === 'set') out.set(m.bytes.subarray(0, out.length - at), at);
    else if (m.kind === 'cut') out = out.slice(0, at);
    else if (m.kind === 'interesting') {
      if (at + 4 <= out.length) new DataView(out.buffer).setUint32(at, m.value, true);
    } else {
      const grown = new Uint8Array(out.length + m.bytes.length);
      grown.set(out.subarray(0, at));
      grown.set(m.bytes, at);
      grown.set(out.subarray(at), at + m.bytes.length);
      out = grown;
    }
  }
  return out;
}

/** Runs `load`; a result is checked by `check`, anything thrown must be a RecurError. */
function loadsOrRefuses(load: () => unknown, check: (result: unknown) => void, fileBytes: number): void {
  const before = process.memoryUsage().arrayBuffers;
  let result: unknown;
  try {
    result = load();
  } catch (e) {
    if (!RecurError.isInstance(e)) throw new Error(`threw a non-recur error: ${String(e)}`, { cause: e });
    expect((e as Error).message.length).toBeLessThan(2000);
  }
  if (result !== undefined) check(result);
  expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * fileBytes + 2 ** 24);
}

function checkStateDict(sd: unknown): void {
  for (const t of Object.values(sd as Record<string, Tensor>)) {
    expect(t).toBeInstanceOf(Tensor);
    expect(t.values.length).toBe(t.shape.reduce((a, d) => a * d, 1));
  }
}

function checkModules(list: unknown): void {
  for (const { module } of list as Array<{ module: { parameters(): Tensor[] } }>) {
    for (const p of module.parameters()) expect(p.values.every((v) => typeof v === 'number')).toBe(true);
  }
}

const TORCH = ['lstm_bi_2layer.pt', 'gru_f16.pt', 'checkpoint_views.pt', 'lstmcell_proto4.pt', 'lstm_proj_f64.pt'];
const ONNX = ['lstm_bi.onnx', 'gru_2layer.onnx', 'rnn_relu_batch_first.onnx', 'control_flow.onnx'];

describe('loadTorch: mutated files', () => {
  it.each(TORCH)('400 mutants of %s (2,000 in all) load or throw a RecurError', (file) => {
    const seed = fixtureBytes(file);
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (ms) => {
        const bytes = mutate(seed, ms);
        loadsOrRefuses(() => loadTorch(bytes), checkStateDict, bytes.length);
      }),
      { numRuns: 400, seed: 15 },
    );
  });

  it('2,000 mutants of the pickle alone (past the zip layer) load or throw a RecurError', () => {
    const seed = fixtureBytes('checkpoint_views.pt');
    // Stored entries are raw bytes in the file: data.pkl starts after its 30-byte local header and name.
    const name = 'checkpoint_views/data.pkl';
    const start = seed.indexOf(0x80, 30 + name.length);
    const end = seed.indexOf(0x2e, start + 400);
    fc.assert(
      fc.property(fc.array(fc.record({ at: fc.nat(), value: fc.nat(255) }), { minLength: 1, maxLength: 6 }), (edits) => {
        const bytes = seed.slice();
        for (const e of edits) bytes[start + (e.at % (end - start))] = e.value;
        loadsOrRefuses(() => loadTorch(bytes), checkStateDict, bytes.length);
      }),
      { numRuns: 2000, seed: 16 },
    );
  });
});

describe('fromOnnx: mutated files', () => {
  it.each(ONNX)('600 mutants of %s load or throw a RecurError', (file) => {
    const seed = fixtureBytes(file);
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (ms) => {
        const bytes = mutate(seed, ms);
        loadsOrRefuses(() => fromOnnx(bytes), checkModules, bytes.length);
      }),
      { numRuns: 600, seed: 17 },
    );
  });
});

/** A JSON value to put anywhere in model.json. */
const jsonValue = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1e300, 2 ** 53, 0.5, '', 'concat', 'sum', 'tanh', 'relu', 'hard_sigmoid', 'float16', 'uint8', '__proto__', [], {}),
  fc.array(fc.integer({ min: -2, max: 70000 }), { maxLength: 3 }),
);

describe('fromKeras: mutated models', () => {
  const json = fixtureJson<unknown>('keras_stack.json');
  const bin = fixtureBytes('keras_stack.bin');

  /** Every path to a value inside `value`, so a mutant can replace any one of them. */
  const paths = (value: unknown, at: Array<string | number> = []): Array<Array<string | number>> => {
    if (typeof value !== 'object' || value === null) return [at];
    const keys: Array<string | number> = Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value);
    return [at, ...keys.flatMap((k) => paths((value as Record<string, unknown>)[k], [...at, k]))];
  };
  const ALL = paths(json).filter((p) => p.length > 0);

  it('3,000 mutants of model.json (any value replaced) load or throw a RecurError', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(ALL.length - 1), jsonValue), { minLength: 1, maxLength: 3 }), fc.nat(bin.length + 8), (edits, cut) => {
        const copy = structuredClone(json) as Record<string, unknown>;
        for (const [i, value] of edits) {
          const path = ALL[i]!;
          let parent: Record<string | number, unknown> | undefined = copy;
          for (const k of path.slice(0, -1)) parent = parent?.[k] as Record<string | number, unknown> | undefined;
          if (typeof parent === 'object' && parent !== null) parent[path[path.length - 1]!] = structuredClone(value);
        }
        const weights = cut < bin.length ? bin.subarray(0, cut) : bin;
        loadsOrRefuses(() => fromKeras(copy, weights), checkModules, bin.length + 1000);
      }),
      { numRuns: 3000, seed: 18 },
    );
  });

  it('1,000 byte-level mutants of the model.json text load or throw a RecurError', () => {
    const text = new TextEncoder().encode(JSON.stringify(json));
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (ms) => {
        const mutated = new TextDecoder().decode(mutate(text, ms));
        loadsOrRefuses(() => fromKeras(mutated, bin), checkModules, text.length + bin.length);
      }),
      { numRuns: 1000, seed: 19 },
    );
  });
});
