// Scalar nonlinearities. `sigmoid` never evaluates exp of a large positive number, so it gives
// exact 0 and 1 (never NaN or Infinity) for inputs like ±1e4; Math.tanh saturates to ±1 by itself.

export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

export const tanh = Math.tanh;

export function relu(x: number): number {
  return x > 0 || Number.isNaN(x) ? x : 0; // keeps NaN as NaN, as torch.relu does
}
