// saveSafetensors writes only what loadSafetensors reads back (issue 17, class 4): reserved and
// prototype names, metadata that is not strings, Maps, values that are not tensors, and a property
// test that whatever it writes reads back exactly (names, shapes, float32 bits, metadata).

import { ArgumentError, RangeArgumentError, RecurError, Tensor, tensor } from '@recur/core-tensor';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readSafetensors, saveSafetensors } from '../src/index.js';

/** An object with the given own keys, `__proto__` included (an object literal would set the prototype). */
function record(entries: Array<[string, unknown]>): Record<string, never> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  return out as Record<string, never>;
}

const bitsOf = (t: Tensor) => Array.from(new Uint32Array(t.values.buffer, t.values.byteOffset, t.size));

describe('saveSafetensors refuses what loadSafetensors refuses (class 4)', () => {
  const t = tensor([1, 2]);

  it.each([
    ['a tensor named __metadata__', () => saveSafetensors(record([['__metadata__', t]])), /expected a tensor name other than '__metadata__' \(the format's own key\), got '__metadata__'/],
    ['a Map with __metadata__', () => saveSafetensors(new Map([['__metadata__', t]])), /other than '__metadata__'/],
    ['a number value', () => saveSafetensors(record([['w', 3]])), /tensor 'w': expected a Tensor, got number 3/],
    ['a plain array value', () => saveSafetensors(record([['w', [1, 2]]])), /tensor 'w': expected a Tensor, got an array of 2/],
    ['a Float32Array value', () => saveSafetensors(record([['w', new Float32Array(2)]])), /tensor 'w': expected a Tensor, got a Float32Array of 2/],
    ['a tensor-like object', () => saveSafetensors(record([['w', { shape: [2], values: new Float32Array(2) }]])), /tensor 'w': expected a Tensor, got a tensor of shape \[2\]/],
    ['null as the value', () => saveSafetensors(record([['w', null]])), /tensor 'w': expected a Tensor, got null/],
    ['null tensors', () => saveSafetensors(null as never), /expected tensors as an object or Map of name to Tensor, got null/],
    ['a string', () => saveSafetensors('w' as never), /got the string 'w'/],
    ['an array of tensors', () => saveSafetensors([t] as never), /got an array of 1/],
    ['a lone tensor', () => saveSafetensors(t as never), /got a tensor of shape \[2\]/],
    ['a Map with a number key', () => saveSafetensors(new Map([[1, t]]) as never), /expected tensor names as strings, got number 1/],
    ['a name with a lone surrogate', () => saveSafetensors(record([['w\uD800', t]])), /expected a well-formed Unicode tensor name, got the string '.*' with a lone surrogate U\+D800 at index 1/],
    ['a number metadata value', () => saveSafetensors({ w: t }, record([['epoch', 3]])), /metadata key 'epoch': expected a string value, got number 3/],
    ['an object metadata value', () => saveSafetensors({ w: t }, record([['opts', { a: 1 }]])), /metadata key 'opts': expected a string value, got an object/],
    ['a null metadata value', () => saveSafetensors({ w: t }, record([['k', null]])), /metadata key 'k': expected a string value, got null/],
    ['a __proto__ metadata value that is a number', () => saveSafetensors({ w: t }, record([['__proto__', 1]])), /metadata key '__proto__': expected a string value, got number 1/],
    ['string metadata', () => saveSafetensors({ w: t }, 'pt' as never), /expected metadata as an object or Map of string to string, got the string 'pt'/],
    ['array metadata', () => saveSafetensors({ w: t }, ['pt'] as never), /got an array of 1/],
    ['a Map of metadata with a number value', () => saveSafetensors({ w: t }, new Map([['k', 1]]) as never), /metadata key 'k': expected a string value, got number 1/],
    ['a metadata value with a lone surrogate', () => saveSafetensors({ w: t }, { k: '\uDC00x' }), /well-formed Unicode metadata value of 'k'.*U\+DC00 at index 0/],
  ])('refuses %s', (_label, call, message) => {
    expect(call).toThrow(message);
    try {
      call();
    } catch (e) {
      expect(RecurError.isInstance(e)).toBe(true);
      expect(ArgumentError.isInstance(e) || RangeArgumentError.isInstance(e)).toBe(true);
    }
  });

  it('refuses a disposed tensor with a recur error naming it', () => {
    const d = tensor([1]);
    d.dispose();
    expect(() => saveSafetensors({ d })).toThrow(/saveSafetensors: tensor 'd': expected a readable Tensor, got one that fails: Tensor: used after dispose\(\)/);
  });

  it('writes tensors named __proto__, constructor and toString as ordinary names', () => {
    const tensors = record([
      ['__proto__', tensor([1, 2])],
      ['constructor', tensor([3])],
      ['toString', tensor([[4, 5]])],
    ]);
    const back = readSafetensors(saveSafetensors(tensors, record([['__proto__', 'p'], ['constructor', 'c']])));
    expect(Object.keys(back.tensors).sort()).toEqual(['__proto__', 'constructor', 'toString']);
    expect(Object.getOwnPropertyDescriptor(back.tensors, '__proto__')!.value.toArray()).toEqual([1, 2]);
    expect((Object.getOwnPropertyDescriptor(back.tensors, 'toString')!.value as Tensor).shape).toEqual([1, 2]);
    expect(Object.entries(back.metadata)).toEqual([
      ['__proto__', 'p'],
      ['constructor', 'c'],
    ]);
  });

  it('writes a Map like the object it stands for, never an empty file', () => {
    const sd = { a: tensor([1, 2]), b: tensor([[3]]) };
    const fromMap = saveSafetensors(new Map(Object.entries(sd)), new Map([['format', 'pt']]));
    expect(fromMap).toEqual(saveSafetensors(sd, { format: 'pt' }));
    const back = readSafetensors(fromMap);
    expect(Object.keys(back.tensors)).toEqual(['a', 'b']);
    expect(back.metadata).toEqual({ format: 'pt' });
  });

  it('writes no metadata for null, undefined or an empty object', () => {
    const plain = saveSafetensors({ a: tensor([1]) });
    expect(saveSafetensors({ a: tensor([1]) }, null)).toEqual(plain);
    expect(saveSafetensors({ a: tensor([1]) }, {})).toEqual(plain);
    expect(readSafetensors(plain).metadata).toEqual({});
  });

  it('keeps every float32 bit: NaN payloads, -0, infinities, subnormals', () => {
    const bits = [0x7fc00001, 0xffbfffff, 0x80000000, 0x7f800000, 0xff800000, 0x00000001, 0x3f800000];
    const t = new Tensor(new Float32Array(Uint32Array.from(bits).buffer), [bits.length]);
    expect(bitsOf(readSafetensors(saveSafetensors({ t })).tensors.t!)).toEqual(bits);
  });

  it('reads every value once, so a getter cannot change what is written after the checks', () => {
    let reads = 0;
    const sd = {};
    Object.defineProperty(sd, 'w', {
      enumerable: true,
      get: () => (++reads === 1 ? tensor([1]) : 'not a tensor'),
    });
    expect(readSafetensors(saveSafetensors(sd)).tensors.w!.toArray()).toEqual([1]);
    expect(reads).toBe(1);
  });
});

describe('saveSafetensors round trips (property)', () => {
  const NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', '', 'weight_ih_l0', 'a.b', '"', '\\', '[{'];
  const wellFormedName = fc.oneof(fc.constantFrom(...NAMES), fc.string({ unit: 'binary', maxLength: 8 }));
  const tensorArb = fc
    .array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 })
    .chain((shape) => {
      const n = shape.reduce((a, b) => a * b, 1);
      return fc.tuple(fc.constant(shape), fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: n, maxLength: n }));
    })
    .map(([shape, bits]) => new Tensor(new Float32Array(Uint32Array.from(bits).buffer), shape));

  it('reads back exactly the names, shapes, float32 bits and metadata it wrote', () => {
    fc.assert(
      fc.property(
        fc.dictionary(wellFormedName.filter((k) => k !== '__metadata__'), tensorArb, { maxKeys: 5 }),
        fc.dictionary(wellFormedName, fc.string({ unit: 'binary', maxLength: 8 }), { maxKeys: 3 }),
        fc.boolean(),
        (tensors, metadata, asMap) => {
          const bytes = asMap
            ? saveSafetensors(new Map(Object.entries(tensors)), new Map(Object.entries(metadata)))
            : saveSafetensors(tensors, metadata);
          const back = readSafetensors(bytes);
          expect(Object.keys(back.tensors).sort()).toEqual(Object.keys(tensors).sort());
          for (const [name, t] of Object.entries(tensors)) {
            const got = Object.getOwnPropertyDescriptor(back.tensors, name)!.value as Tensor;
            expect(got.shape).toEqual(t.shape);
            expect(bitsOf(got)).toEqual(bitsOf(t));
          }
          expect(Object.entries(back.metadata).sort()).toEqual(Object.entries(metadata).sort());
        },
      ),
      { numRuns: 300 },
    );
  });

  const hostileName = fc.oneof(
    wellFormedName,
    fc.constant('__metadata__'),
    fc.string({ unit: fc.constantFrom('a', '\uD800', '\uDC00', '\uD83D\uDE00'), maxLength: 4 }),
  );
  const isWellFormed = (s: string) => !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
  const isString = (v: unknown): v is string => typeof v === 'string';

  it('either refuses with a recur error, exactly when the input holds something a file cannot, or round trips', () => {
    fc.assert(
      fc.property(
        fc.dictionary(hostileName, fc.oneof(tensorArb, tensorArb, fc.anything({ maxDepth: 2 })), { maxKeys: 4 }),
        fc.oneof(fc.constant(undefined), fc.dictionary(hostileName, fc.oneof(fc.string(), fc.anything({ maxDepth: 1 })), { maxKeys: 3 })),
        (tensors, metadata) => {
          const entries = Object.entries(tensors);
          const meta = metadata === undefined ? [] : Object.entries(metadata);
          const refusable =
            entries.some(([k, v]) => k === '__metadata__' || !isWellFormed(k) || !(v instanceof Tensor)) ||
            meta.some(([k, v]) => !isWellFormed(k) || !isString(v) || !isWellFormed(v));
          let bytes: Uint8Array;
          try {
            bytes = saveSafetensors(tensors as Record<string, Tensor>, metadata as Record<string, string> | undefined);
          } catch (e) {
            expect(RecurError.isInstance(e)).toBe(true);
            expect(refusable).toBe(true);
            return;
          }
          expect(refusable).toBe(false);
          const back = readSafetensors(bytes);
          expect(Object.keys(back.tensors).sort()).toEqual(entries.map(([k]) => k).sort());
          for (const [name, t] of entries) expect(bitsOf(back.tensors[name]!)).toEqual(bitsOf(t as Tensor));
          expect(Object.entries(back.metadata).sort()).toEqual([...meta].sort());
        },
      ),
      { numRuns: 300 },
    );
  });
});
