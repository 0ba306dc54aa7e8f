import { describe, expect, it } from 'vitest';
import { ShapeError } from '../src/errors.js';
import { Tensor, full, ones, rand, randn, tensor, zeros } from '../src/tensor.js';

describe('tensor()', () => {
  it('infers the shape from nesting and keeps row-major order', () => {
    const x = tensor([[1, 2], [3, 4], [5, 6]]);
    expect(x.shape).toEqual([3, 2]);
    expect(x.dtype).toBe('float32');
    expect(x.size).toBe(6);
    expect(Array.from(x.dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
    expect(x.toArray()).toEqual([[1, 2], [3, 4], [5, 6]]);
  });

  it('takes flat data and a shape', () => {
    const y = tensor(new Float32Array(30), [6, 5]);
    expect(y.shape).toEqual([6, 5]);
    expect(tensor([1, 2, 3, 4, 5, 6], [2, 3]).toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(tensor(Float64Array.of(0.5, 1.5)).toArray()).toEqual([0.5, 1.5]);
  });

  it('handles scalars and empty dimensions', () => {
    const s = tensor(3);
    expect(s.shape).toEqual([]);
    expect(s.toArray()).toBe(3);
    expect(tensor(new Float32Array(0), [0, 4]).size).toBe(0);
    expect(tensor([]).shape).toEqual([0]);
  });

  it('rejects data that does not match the shape, naming expected and given', () => {
    expect(() => tensor([1, 2, 3], [2, 2])).toThrow(ShapeError);
    expect(() => tensor([1, 2, 3], [2, 2])).toThrow('tensor: data has 3 values, expected 4 for shape [2,2]');
    expect(() => new Tensor(new Float32Array(5), [2, 3])).toThrow(/5 values, expected 6/);
  });

  it('rejects negative or fractional dimensions', () => {
    expect(() => tensor([1, 2], [-1, -2])).toThrow(/non-negative integers, got \[-1,-2\] \(bad dimension -1\)/);
    expect(() => zeros([1.5, 2])).toThrow(ShapeError);
    expect(() => zeros([2, Number.NaN])).toThrow(/bad dimension NaN/);
  });

  it('rejects ragged and non-numeric data', () => {
    expect(() => tensor([[1, 2], [3]])).toThrow(/ragged nested array at \[1\]: expected length 2, got length 1/);
    expect(() => tensor([[1, 2], ['a' as unknown as number, 3]])).toThrow(/expected a number at \[1\]\[0\], got string a/);
    expect(() => tensor({} as unknown as number[])).toThrow(ShapeError);
    expect(() => tensor([1, null as unknown as number], [2])).toThrow(/expected a number at \[1\], got null/);
  });

  it('dataSync returns a copy; data() resolves to the same values', async () => {
    const x = tensor([1, 2, 3]);
    const copy = x.dataSync();
    copy[0] = 99;
    expect(x.dataSync()[0]).toBe(1);
    expect(Array.from(await x.data())).toEqual([1, 2, 3]);
  });

  it('reshape shares values and checks sizes', () => {
    const x = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(x.reshape([3, -1]).shape).toEqual([3, 2]);
    expect(() => x.reshape([4, 2])).toThrow(/cannot reshape \[2,3\] \(6 values\) to \[4,2\] \(8 values\)/);
    expect(() => x.reshape([4, -1])).toThrow(ShapeError);
  });

  it('dispose releases the values', () => {
    const x = ones([2]);
    x.dispose();
    expect(x.isDisposed).toBe(true);
    expect(() => x.dataSync()).toThrow(/after dispose/);
  });

  it('zeros, ones, full', () => {
    expect(Array.from(zeros([2]).dataSync())).toEqual([0, 0]);
    expect(Array.from(ones([1, 2]).dataSync())).toEqual([1, 1]);
    expect(Array.from(full([3], 0.25).dataSync())).toEqual([0.25, 0.25, 0.25]);
  });
});

describe('seeded random tensors', () => {
  it('give fixed values for a seed (same on every platform)', () => {
    expect(Array.from(randn([4], { seed: 0 }).dataSync())).toEqual([
      -0.027870172634720802, -0.1638857126235962, 0.19642984867095947, 0.8937524557113647,
    ]);
    expect(Array.from(rand([3], { seed: 42 }).dataSync())).toEqual([
      0.15377163887023926, 0.8504892587661743, 0.01808452606201172,
    ]);
    expect(Array.from(randn([2], { seed: 2 ** 40 + 5 }).dataSync())).toEqual([0.4336238205432892, 2.106152296066284]);
  });

  it('repeat for the same seed, differ for another', () => {
    expect(randn([6, 3, 5], { seed: 0 }).dataSync()).toEqual(randn([6, 3, 5], { seed: 0 }).dataSync());
    expect(randn([8], { seed: 0 }).dataSync()).not.toEqual(randn([8], { seed: 1 }).dataSync());
  });

  it('have the right moments and range', () => {
    const n = randn([20000], { seed: 5 }).dataSync();
    const mean = n.reduce((a, b) => a + b, 0) / n.length;
    const variance = n.reduce((a, b) => a + (b - mean) ** 2, 0) / n.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
    const u = rand([5000], { seed: 6, low: -2, high: 3 }).dataSync();
    expect(Math.min(...u)).toBeGreaterThanOrEqual(-2);
    expect(Math.max(...u)).toBeLessThan(3);
  });
});
