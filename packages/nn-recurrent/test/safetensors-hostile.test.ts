// Hostile safetensors headers (issue 17, classes 1 to 3): values nested 20,000 levels deep, names that
// are also Object.prototype's, dimensions past 2^53. Each is refused fast with a SafetensorsError
// naming what was expected and what was given, or (for names) loaded as an ordinary own key.

import { RecurError, Tensor } from '@recur/core-tensor';
import { describe, expect, it } from 'vitest';
import { SafetensorsError, loadSafetensors, readSafetensors } from '../src/index.js';

/** A file from a header written as raw JSON text (so it can hold `__proto__` keys and deep nesting). */
function rawFile(headerJson: string, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(headerJson);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const f32 = (...values: number[]) => new Uint8Array(Float32Array.from(values).buffer);
const deepArray = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;
const deepObject = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
const entry = (dtype: string, shape: string, offsets: string) => `{"dtype":${dtype},"shape":${shape},"data_offsets":${offsets}}`;

/** Loads `bytes`, expecting a refusal; returns the error after checking it allocated little. */
function refusal(bytes: Uint8Array): SafetensorsError {
  let error: unknown;
  const buffersBefore = process.memoryUsage().arrayBuffers;
  try {
    loadSafetensors(bytes);
  } catch (e) {
    error = e;
  }
  expect(process.memoryUsage().arrayBuffers - buffersBefore).toBeLessThan(4 * bytes.length + 2 ** 20);
  expect(error).toBeInstanceOf(SafetensorsError);
  expect(RecurError.isInstance(error)).toBe(true);
  return error as SafetensorsError;
}

describe('loadSafetensors: deep or hostile JSON values (class 1)', () => {
  const DEEP = deepArray(20_000);
  const DEEP_OBJECT = deepObject(20_000);
  const tooDeep = /expected JSON nested at most 128 levels deep \(a safetensors header needs 3\), got deeper nesting at header byte \d+/;
  it.each([
    ['dtype', `{"a":${entry(DEEP, '[1]', '[0,4]')}}`, "tensor 'a' field 'dtype'"],
    ['dtype (object)', `{"a":${entry(DEEP_OBJECT, '[1]', '[0,4]')}}`, "tensor 'a' field 'dtype'"],
    ['shape', `{"a":${entry('"F32"', DEEP, '[0,4]')}}`, "tensor 'a' field 'shape'"],
    ['a shape dimension', `{"a":${entry('"F32"', `[1,${DEEP}]`, '[0,4]')}}`, "tensor 'a' field 'shape'"],
    ['data_offsets', `{"a":${entry('"F32"', '[1]', DEEP)}}`, "tensor 'a' field 'data_offsets'"],
    ['a data offset', `{"a":${entry('"F32"', '[1]', `[0,${DEEP}]`)}}`, "tensor 'a' field 'data_offsets'"],
    ['whole entry', `{"a":${DEEP}}`, "tensor 'a'"],
    ['__metadata__', `{"__metadata__":${DEEP}}`, '__metadata__'],
    ['__metadata__ value', `{"__metadata__":{"k":${DEEP}}}`, "__metadata__ key 'k'"],
    ['__metadata__ object value', `{"__metadata__":{"k":${DEEP_OBJECT}}}`, "__metadata__ key 'k'"],
    ['header', `${DEEP}`, 'header'],
    ['tensor with an escaped name', `{"a\\u0062":{"dtype":${DEEP}}}`, "tensor 'ab' field 'dtype'"],
  ])('refuses a %s nested 20,000 levels deep, naming where', (_label, header, where) => {
    const { message } = refusal(rawFile(header, f32(1)));
    expect(message).toContain(`loadSafetensors: ${where}: expected JSON nested`);
    expect(message).toMatch(tooDeep);
  });

  it('refuses a header nested a million levels deep before parsing it', () => {
    expect(refusal(rawFile(`{"a":${deepArray(1_000_000)}}`)).message).toMatch(tooDeep);
  });

  it('loads nesting up to the limit in fields the format ignores, and refuses one level more', () => {
    // serde_json, under the reference implementation, reads 128 levels; so does recur.
    const ok = `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":${deepArray(126)}}}`;
    expect(loadSafetensors(rawFile(ok, f32(1))).a!.shape).toEqual([1]);
    const over = `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":${deepArray(127)}}}`;
    expect(refusal(rawFile(over, f32(1))).message).toContain("tensor 'a' field 'x'");
  });

  it('does not count brackets inside strings, escaped quotes included', () => {
    const name = `[{${'['.repeat(200)}"\\`;
    const t = loadSafetensors(rawFile(`{${JSON.stringify(name)}:${entry('"F32"', '[1]', '[0,4]')}}`, f32(3)));
    expect(Object.keys(t)).toEqual([name]);
  });

  const NESTED = deepArray(100);
  const NESTED_OBJECT = deepObject(100);
  it.each([
    ['dtype', `{"a":${entry(NESTED, '[1]', '[0,4]')}}`, /tensor 'a': expected dtype F32, F16, BF16 or F64, got an array of 1/],
    ['dtype (object)', `{"a":${entry(NESTED_OBJECT, '[1]', '[0,4]')}}`, /tensor 'a': expected dtype F32, F16, BF16 or F64, got an object/],
    ['shape', `{"a":${entry('"F32"', NESTED, '[0,4]')}}`, /tensor 'a': expected a shape of non-negative safe integers, got dimension 0 = an array of 1/],
    ['shape dimension', `{"a":${entry('"F32"', `[1,${NESTED}]`, '[0,4]')}}`, /dimension 1 = an array of 1/],
    ['shape (object)', `{"a":${entry('"F32"', NESTED_OBJECT, '[0,4]')}}`, /tensor 'a': expected a shape as an array of non-negative safe integers, got an object/],
    ['data_offsets', `{"a":${entry('"F32"', '[1]', NESTED)}}`, /tensor 'a': expected data_offsets \[begin, end\] .*, got an array of 1/],
    ['data offset', `{"a":${entry('"F32"', '[1]', `[0,${NESTED}]`)}}`, /tensor 'a': expected data_offsets \[begin, end\] .*, got end = an array of 1/],
    ['data_offsets (object)', `{"a":${entry('"F32"', '[1]', NESTED_OBJECT)}}`, /got an object/],
    ['whole entry', `{"a":${NESTED}}`, /tensor 'a': expected an object \{ dtype, shape, data_offsets \}, got an array of 1/],
    ['__metadata__', `{"__metadata__":${NESTED}}`, /expected __metadata__ as an object of strings, got an array of 1/],
    ['__metadata__ value', `{"__metadata__":{"k":${NESTED}}}`, /__metadata__ key 'k': expected a string value, got an array of 1/],
    ['__metadata__ object value', `{"__metadata__":{"k":${NESTED_OBJECT}}}`, /__metadata__ key 'k': expected a string value, got an object/],
    ['header', NESTED, /expected the header as a JSON object, got an array of 1/],
    ['dtype that looks like a tensor', `{"a":${entry('{"shape":[2]}', '[1]', '[0,4]')}}`, /expected dtype F32, F16, BF16 or F64, got an object$/],
  ])('refuses a %s nested 100 levels deep by its type, without walking it', (_label, header, message) => {
    expect(refusal(rawFile(header, f32(1))).message).toMatch(message);
  });

  it.each([
    ['a number dtype', entry('32', '[1]', '[0,4]'), /expected dtype F32, F16, BF16 or F64, got number 32/],
    ['a null shape', entry('"F32"', 'null', '[0,4]'), /expected a shape as an array of non-negative safe integers, got null/],
    ['a string shape', entry('"F32"', '"[1]"', '[0,4]'), /got the string '\[1\]'/],
    ['a string dimension', entry('"F32"', '["1"]', '[0,4]'), /got dimension 0 = the string '1'/],
    ['a boolean dimension', entry('"F32"', '[true]', '[0,4]'), /got dimension 0 = boolean true/],
    ['a missing dtype', '{"shape":[1],"data_offsets":[0,4]}', /expected dtype F32, F16, BF16 or F64, got undefined/],
    ['a missing shape', '{"dtype":"F32","data_offsets":[0,4]}', /got undefined/],
    ['missing data_offsets', '{"dtype":"F32","shape":[1]}', /expected data_offsets \[begin, end\] .*, got undefined/],
    ['three data_offsets', entry('"F32"', '[1]', '[0,4,4]'), /got an array of 3/],
    ['string data_offsets', entry('"F32"', '[1]', '["0","4"]'), /got begin = the string '0'/],
    ['a fractional data offset', entry('"F32"', '[1]', '[0,4.5]'), /got end = number 4.5/],
    ['a very long dtype', entry(`"${'x'.repeat(100_000)}"`, '[1]', '[0,4]'), /got a string of 100000 characters/],
  ])('refuses %s with what was expected and given', (_label, info, message) => {
    expect(refusal(rawFile(`{"a":${info}}`, f32(1))).message).toMatch(message);
  });

  it('shortens a very long tensor name in messages', () => {
    const name = 'n'.repeat(100_000);
    const { message } = refusal(rawFile(`{"${name}":${entry('"I64"', '[1]', '[0,8]')}}`, f32(1, 2)));
    expect(message.length).toBeLessThan(300);
    expect(message).toMatch(/tensor 'n+…' \(100000 characters\): expected dtype/);
  });

  it('refuses a __metadata__ that is an array, null or a string', () => {
    for (const value of ['[]', '["a"]', 'null', '"pt"']) {
      expect(refusal(rawFile(`{"__metadata__":${value}}`)).message).toMatch(/expected __metadata__ as an object of strings, got/);
    }
  });
});

describe('loadSafetensors: names that are also Object.prototype names (class 2)', () => {
  const NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'];

  it.each(NAMES)('loads a tensor named %s as an own key of a prototype-free result', (name) => {
    const tensors = loadSafetensors(rawFile(`{"${name}":${entry('"F32"', '[2]', '[0,8]')},"w":${entry('"F32"', '[1]', '[8,12]')}}`, f32(1, 2, 3)));
    expect(Object.getPrototypeOf(tensors)).toBeNull();
    expect(tensors instanceof Tensor).toBe(false);
    expect(Object.keys(tensors).sort()).toEqual([name, 'w'].sort());
    expect(Object.hasOwn(tensors, name)).toBe(true);
    const t = Object.getOwnPropertyDescriptor(tensors, name)!.value as Tensor;
    expect(t).toBeInstanceOf(Tensor);
    expect(Array.from(t.values)).toEqual([1, 2]);
  });

  it('does not turn a __proto__ entry into the prototype of the result', () => {
    const tensors = loadSafetensors(rawFile(`{"__proto__":${entry('"F32"', '[1]', '[0,4]')}}`, f32(7)));
    expect(Object.getPrototypeOf(tensors)).toBeNull();
    expect(Object.keys(tensors)).toEqual(['__proto__']);
    expect((tensors as Record<string, unknown>).shape).toBeUndefined();
  });

  it('keeps metadata keys named __proto__, constructor and toString, in a prototype-free object', () => {
    const { metadata } = readSafetensors(rawFile('{"__metadata__":{"__proto__":"a","constructor":"b","toString":"c","format":"pt"}}'));
    expect(Object.getPrototypeOf(metadata)).toBeNull();
    expect(Object.entries(metadata)).toEqual([
      ['__proto__', 'a'],
      ['constructor', 'b'],
      ['toString', 'c'],
      ['format', 'pt'],
    ]);
  });

  it('returns prototype-free objects for an empty file too', () => {
    const { tensors, metadata } = readSafetensors(rawFile('{}'));
    expect(Object.getPrototypeOf(tensors)).toBeNull();
    expect(Object.getPrototypeOf(metadata)).toBeNull();
    expect(Object.keys(tensors)).toEqual([]);
  });

  it.each(['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf', 'isPrototypeOf'])(
    'refuses the dtype name %s as an unsupported dtype',
    (dtype) => {
      const { message } = refusal(rawFile(`{"a":${entry(`"${dtype}"`, '[1]', '[0,4]')}}`, f32(1)));
      expect(message).toContain(`tensor 'a': expected dtype F32, F16, BF16 or F64, got the string '${dtype}'`);
    },
  );

  it('reads no field of an entry through its prototype', () => {
    // JSON.parse makes "__proto__" an own key, so the fields inside it must not count as the entry's.
    const { message } = refusal(rawFile(`{"a":{"__proto__":${entry('"F32"', '[1]', '[0,4]')}}}`, f32(1)));
    expect(message).toMatch(/expected dtype F32, F16, BF16 or F64, got undefined/);
  });
});

describe('loadSafetensors: dimensions and offsets past 2^53 (class 3)', () => {
  it.each([
    ['[0, 2^64-1]', '[0,18446744073709551615]', /dimension 1 = number 18446744073709552000/],
    ['[0, 1e300]', '[0,1e300]', /dimension 1 = number 1e\+300/],
    ['[2^64-1, 0]', '[18446744073709551615,0]', /dimension 0 = number 18446744073709552000/],
    ['[0, 2^53]', '[0,9007199254740992]', /dimension 1 = number 9007199254740992/],
    ['[0, 1.5]', '[0,1.5]', /dimension 1 = number 1.5/],
    ['[0, -1]', '[0,-1]', /dimension 1 = number -1/],
    ['[0, null]', '[0,null]', /dimension 1 = null/],
  ])('refuses the empty shape %s', (_label, shape, message) => {
    const { message: m } = refusal(rawFile(`{"a":${entry('"F32"', shape, '[0,0]')}}`));
    expect(m).toMatch(/tensor 'a': expected a shape of non-negative safe integers/);
    expect(m).toMatch(message);
  });

  it('refuses a non-empty shape with a dimension past 2^53', () => {
    const { message } = refusal(rawFile(`{"a":${entry('"F32"', '[9007199254740993]', '[0,4]')}}`, f32(1)));
    expect(message).toMatch(/dimension 0 = number 9007199254740992/);
  });

  it('refuses a shape whose product is past 2^53 with the size it would need', () => {
    const { message } = refusal(rawFile(`{"a":${entry('"F32"', '[4294967296,4294967296]', '[0,4]')}}`, f32(1)));
    expect(message).toMatch(/tensor 'a' of shape \[4294967296,4294967296\] and dtype F32 needs 73786976294838210000 bytes, its offsets give 4/);
  });

  it.each([
    ['[0, 2^64-1]', '[0,18446744073709551615]', /got end = number 18446744073709552000/],
    ['[1e300, 1e300]', '[1e300,1e300]', /got begin = number 1e\+300/],
    ['[-4, 0]', '[-4,0]', /got begin = number -4/],
  ])('refuses the data_offsets %s', (_label, offsets, message) => {
    expect(refusal(rawFile(`{"a":${entry('"F32"', '[0]', offsets)}}`)).message).toMatch(message);
  });

  it('loads a shape with -0 as 0', () => {
    const t = loadSafetensors(rawFile(`{"a":${entry('"F32"', '[-0,2]', '[0,0]')}}`)).a!;
    expect(Object.is(t.shape[0], 0)).toBe(true);
  });
});

describe('loadSafetensors: random mutations of a valid header', () => {
  // Seeded, so a failure reproduces: every mutant either loads or throws a SafetensorsError, quickly.
  const VALUES = ['null', 'true', '-1', '1e300', '18446744073709551615', '0.5', '"F32"', '"__proto__"', '[]', '{}', deepArray(5000), deepObject(5000), '"constructor"', '[0,0]'];
  const FIELDS = ['dtype', 'shape', 'data_offsets'];
  it('refuses or loads 500 mutants, never with another error', () => {
    let seed = 17;
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 500; i++) {
      const info: Record<string, string> = { dtype: '"F32"', shape: '[2]', data_offsets: '[0,8]' };
      info[FIELDS[next(3)]!] = VALUES[next(VALUES.length)]!;
      if (next(2)) info[FIELDS[next(3)]!] = `[${VALUES[next(VALUES.length)]!}]`;
      const name = ['a', '__proto__', 'constructor', '__metadata__'][next(4)]!;
      const header = `{"${name}":{${Object.entries(info).map(([k, v]) => `"${k}":${v}`).join(',')}}}`;
      try {
        loadSafetensors(rawFile(header, f32(1, 2)));
      } catch (e) {
        if (!(e instanceof SafetensorsError)) throw new Error(`mutant ${header.slice(0, 200)} threw ${String(e)}`);
      }
    }
  });
});
