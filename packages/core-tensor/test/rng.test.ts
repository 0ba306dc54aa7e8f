import { describe, expect, it } from 'vitest';
import { Generator, deterministicLog } from '../src/rng.js';

describe('Generator', () => {
  it('produces a fixed stream for a seed', () => {
    const g = new Generator(0);
    expect([g.nextUint32(), g.nextUint32(), g.nextUint32()]).toEqual([1789933344, 44971166, 2521387044]);
  });

  it('uniform is in [0, 1) with 24-bit resolution', () => {
    const g = new Generator(9);
    for (let i = 0; i < 1000; i++) {
      const u = g.uniform();
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
      expect(Math.fround(u)).toBe(u);
    }
  });

  it('rejects a non-finite seed', () => {
    expect(() => new Generator(Number.NaN)).toThrow(/seed must be a finite number/);
  });
});

describe('deterministicLog', () => {
  it('agrees with Math.log to double precision', () => {
    for (const x of [1e-30, 1e-7, 0.001, 0.25, 0.5, Math.SQRT1_2, 0.9, 0.999999, 1]) {
      expect(Math.abs(deterministicLog(x) - Math.log(x))).toBeLessThan(1e-14 * Math.max(1, Math.abs(Math.log(x))));
    }
  });
});
