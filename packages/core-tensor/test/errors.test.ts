import { describe, expect, it } from 'vitest';
import {
  ArgumentError,
  BackendError,
  RangeArgumentError,
  RecurError,
  SafetensorsError,
  ShapeError,
  StateDictError,
  describeValue,
} from '../src/errors.js';
import { tensor } from '../src/tensor.js';

describe('error family', () => {
  const all = [
    new ShapeError('s'),
    new BackendError('b'),
    new StateDictError('d'),
    new SafetensorsError('f'),
    new ArgumentError('a'),
    new RangeArgumentError('r'),
  ];

  it('every recur error is a RecurError, by instanceof and by isInstance', () => {
    for (const e of all) {
      expect(e).toBeInstanceOf(RecurError);
      expect(RecurError.isInstance(e)).toBe(true);
      expect(e).toBeInstanceOf(Error);
    }
    expect(RecurError.isInstance(new Error('plain'))).toBe(false);
    expect(RecurError.isInstance(new TypeError('plain'))).toBe(false);
  });

  it('classes stay apart, and argument errors are the built-ins users expect', () => {
    expect(new ShapeError('x')).not.toBeInstanceOf(StateDictError);
    expect(StateDictError.isInstance(new ShapeError('x'))).toBe(false);
    expect(new ArgumentError('x')).toBeInstanceOf(TypeError);
    expect(new RangeArgumentError('x')).toBeInstanceOf(RangeError);
    expect(ArgumentError.isInstance(new RangeArgumentError('x'))).toBe(false);
    expect(new ArgumentError('x').name).toBe('ArgumentError');
    expect(new StateDictError('x').name).toBe('StateDictError');
  });

  it('recognises an error from another copy of the package by its brand', () => {
    const foreign = new Error('other copy');
    Object.defineProperty(foreign, Symbol.for('@recur/core-tensor/error'), { value: true });
    Object.defineProperty(foreign, Symbol.for('@recur/core-tensor/error/ShapeError'), { value: true });
    expect(RecurError.isInstance(foreign)).toBe(true);
    expect(foreign).toBeInstanceOf(ShapeError);
  });
});

describe('describeValue', () => {
  it('describes values briefly, without internal class names', () => {
    expect(describeValue(null)).toBe('null');
    expect(describeValue(undefined)).toBe('undefined');
    expect(describeValue(3)).toBe('number 3');
    expect(describeValue('lstm')).toBe("the string 'lstm'");
    expect(describeValue('x'.repeat(100))).toBe('a string of 100 characters');
    expect(describeValue([1, 2])).toBe('an array of 2');
    expect(describeValue(tensor([[1, 2]]))).toBe('a tensor of shape [1,2]');
    expect(describeValue(new Map())).toBe('a Map');
    expect(describeValue(new Float32Array(3))).toBe('a Float32Array of 3');
    expect(describeValue({ a: 1 })).toBe('an object');
    expect(describeValue(() => 1)).toBe('a function');
  });

  it('survives hostile values: deep nesting, throwing getters, odd shapes', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(describeValue(deep)).toBe('an array of 1');
    const throwing = Object.defineProperty({}, 'shape', {
      get() {
        throw new Error('no');
      },
    });
    expect(describeValue(throwing)).toBe('an object');
    expect(describeValue({ shape: [1e300] })).toBe('an object');
    expect(describeValue(JSON.parse('{"__proto__": {"x": 1}}'))).toBe('an object');
  });
});
