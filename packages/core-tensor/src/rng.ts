// Seeded random numbers that are bit-identical on every engine and platform: the generator and the
// normal transform use only integer ops, IEEE +,-,*,/ and sqrt (no Math.log/cos, whose last bits vary).

import { RangeArgumentError, describeValue } from './errors.js';

/**
 * xoshiro128** seeded through splitmix32: 32-bit state words, exact with `Math.imul`.
 * @example
 * const g = new Generator(0); g.uniform(); g.normal();
 */
export class Generator {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private spareNormal: number | null = null;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new RangeArgumentError(`Generator: seed must be a finite number, got ${describeValue(seed)}`);
    let x = Math.trunc(seed) >>> 0;
    let hi = Math.floor(Math.abs(Math.trunc(seed)) / 4294967296) >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9 + hi) | 0;
      hi = 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
      z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
      return (z ^ (z >>> 15)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Next raw 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 24 random bits, so it is exact in float32. */
  uniform(): number {
    return (this.nextUint32() >>> 8) / 16777216;
  }

  /** Standard normal by Marsaglia's polar method. */
  normal(): number {
    if (this.spareNormal !== null) {
      const v = this.spareNormal;
      this.spareNormal = null;
      return v;
    }
    for (;;) {
      const u = 2 * this.uniform() - 1;
      const v = 2 * this.uniform() - 1;
      const s = u * u + v * v;
      if (s > 0 && s < 1) {
        const m = Math.sqrt((-2 * deterministicLog(s)) / s);
        this.spareNormal = v * m;
        return u * m;
      }
    }
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

const LN2 = Math.LN2;
const SQRT2 = Math.SQRT2;

/** Natural log of x in (0, 1] from IEEE-exact operations only (atanh series), accurate to ~1e-16. */
export function deterministicLog(x: number): number {
  let e = 0;
  while (x < SQRT2 / 2) {
    x *= 2;
    e -= 1;
  }
  while (x >= SQRT2) {
    x /= 2;
    e += 1;
  }
  const s = (x - 1) / (x + 1);
  const s2 = s * s;
  let term = s;
  let sum = 0;
  for (let k = 1; k <= 29; k += 2) {
    sum += term / k;
    term *= s2;
  }
  return 2 * sum + e * LN2;
}

let defaultGenerator: Generator | null = null;

/**
 * The process-wide generator used when no seed is given; seed it with `manualSeed` for reproducibility.
 * @example
 * manualSeed(0);
 * const a = randn([3]);          // drawn from globalGenerator()
 * globalGenerator().nextUint32(); // advances it, as randn does
 */
export function globalGenerator(): Generator {
  defaultGenerator ??= new Generator(Math.floor(Math.random() * 2 ** 32));
  return defaultGenerator;
}

/**
 * Seeds the process-wide generator, like `torch.manual_seed`.
 * @example
 * manualSeed(0); randn([2, 2]); // same values on every run
 */
export function manualSeed(seed: number): void {
  defaultGenerator = new Generator(seed);
}
