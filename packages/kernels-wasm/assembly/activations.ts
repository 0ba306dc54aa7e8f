// Vectorised exp (Cephes single-precision approximation, ~1 ulp), sigmoid and tanh, with scalar twins
// for tails. Inputs are clamped before exp, so ±1e4 gives exact saturation and never Inf or NaN;
// a NaN input stays NaN (the clamp below passes it through).

const EXP_HI: f32 = 88.3762626647949;
const EXP_LO: f32 = -87.3365447504019;
const LOG2E: f32 = 1.44269504088896341;
const C1: f32 = 0.693359375;
const C2: f32 = -2.12194440e-4;
const P0: f32 = 1.9875691500e-4;
const P1: f32 = 1.3981999507e-3;
const P2: f32 = 8.3334519073e-3;
const P3: f32 = 4.1665795894e-2;
const P4: f32 = 1.6666665459e-1;
const P5: f32 = 5.0000001201e-1;

/** 1.5 * 2^23: adding it rounds a float in (-2^22, 2^22) to an integer held in the low mantissa bits. */
const ROUND_MAGIC: f32 = 12582912.0;

// Written with V8's x64 code generation in mind: `pmin`/`pmax` are single instructions where `min`/`max`
// need NaN and -0 fix-ups (pmin(v, HI) and pmax(x, LO) still return a NaN v), and n comes out of the
// magic-number rounding directly instead of floor plus a saturating conversion.
// @ts-ignore: decorator
@inline
export function exp4(v: v128): v128 {
  let x = f32x4.pmax(f32x4.pmin(v, f32x4.splat(EXP_HI)), f32x4.splat(EXP_LO));
  // n = round(x * log2(e)); the bits of `t` are those of ROUND_MAGIC plus n.
  const t = f32x4.add(f32x4.mul(x, f32x4.splat(LOG2E)), f32x4.splat(ROUND_MAGIC));
  const fx = f32x4.sub(t, f32x4.splat(ROUND_MAGIC));
  x = f32x4.sub(f32x4.sub(x, f32x4.mul(fx, f32x4.splat(C1))), f32x4.mul(fx, f32x4.splat(C2)));
  const z = f32x4.mul(x, x);
  let y = f32x4.add(f32x4.mul(f32x4.splat(P0), x), f32x4.splat(P1));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(P2));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(P3));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(P4));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(P5));
  y = f32x4.add(f32x4.add(f32x4.mul(y, z), x), f32x4.splat(1));
  // 2^n as float bits: (n + 127) << 23. The magic's own bits vanish in the shift (its low 9 bits are 0).
  const pow2n = i32x4.shl(i32x4.add(t, i32x4.splat(127)), 23);
  return f32x4.mul(y, pow2n);
}

// @ts-ignore: decorator
@inline
export function sigmoid4(v: v128): v128 {
  const s = f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), exp4(f32x4.neg(v))));
  // Below -88 the clamped exp leaves a denormal where float32 gives exactly 0 (and denormals are slow).
  return v128.andnot(s, f32x4.lt(v, f32x4.splat(-88)));
}

// tanh(x) = 2 sigmoid(2x) - 1: one exp and one division. Near 0 this loses relative precision, but the
// absolute error stays below 2e-7, far inside the conformance tolerance; ±1e4 gives exactly ±1.
// @ts-ignore: decorator
@inline
export function tanh4(v: v128): v128 {
  const e = exp4(f32x4.mul(v, f32x4.splat(-2)));
  return f32x4.sub(f32x4.div(f32x4.splat(2), f32x4.add(f32x4.splat(1), e)), f32x4.splat(1));
}

// @ts-ignore: decorator
@inline
export function relu4(v: v128): v128 {
  // max(v, 0) but NaN stays NaN: select v where v > 0 or v != v.
  const keep = v128.or(f32x4.gt(v, f32x4.splat(0)), f32x4.ne(v, v));
  return v128.and(v, keep);
}

export function expScalar(x: f32): f32 {
  return f32x4.extract_lane(exp4(f32x4.splat(x)), 0);
}

export function sigmoidScalar(x: f32): f32 {
  return f32x4.extract_lane(sigmoid4(f32x4.splat(x)), 0);
}

export function tanhScalar(x: f32): f32 {
  return f32x4.extract_lane(tanh4(f32x4.splat(x)), 0);
}

export function reluScalar(x: f32): f32 {
  return x > 0 || x != x ? x : 0;
}
