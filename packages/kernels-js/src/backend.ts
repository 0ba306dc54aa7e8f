// `jsBackend`: the whole Backend interface in plain TypeScript. Runs everywhere, needs no
// initialisation, and is the reference every other backend is tested against.

import { BACKEND_INTERFACE_VERSION, type Backend, ShapeError, type RecurrentWeights } from '@recur/core-tensor';
import { binary, checkOut, transpose, unary } from './elementwise.js';
import { gemm } from './gemm.js';
import { JsPreparedWeights, gruLayer, lstmLayer, rnnLayer, transpose2d } from './layers.js';

function matmul(
  a: Float32Array,
  b: Float32Array,
  m: number,
  k: number,
  n: number,
  options?: { transB?: boolean; out?: Float32Array; accumulate?: boolean },
): Float32Array {
  if (a.length !== m * k) throw new ShapeError(`matmul: a expected ${m * k} values for [${m},${k}], got ${a.length}`);
  if (b.length !== k * n) throw new ShapeError(`matmul: b expected ${k * n} values for ${options?.transB ? `[${n},${k}]` : `[${k},${n}]`}, got ${b.length}`);
  const out = options?.out ?? new Float32Array(m * n);
  checkOut('matmul', out, m * n);
  const bKn = options?.transB ? transpose2d(b, n, k) : b;
  gemm(m, n, k, a, 0, k, bKn, 0, n, out, 0, n, options?.accumulate ?? false);
  return out;
}

/**
 * The pure TypeScript backend (priority 1). Always available.
 * @example
 * import { registerBackend, setBackend } from '@recur/core-tensor';
 * import { jsBackend } from '@recur/kernels-js';
 * registerBackend(jsBackend);
 * await setBackend('js');
 */
export const jsBackend: Backend = {
  name: 'js',
  priority: 1,
  interfaceVersion: BACKEND_INTERFACE_VERSION,
  init: async () => {},
  initSync: () => {},
  unavailableReason: () => null,
  matmul,
  unary,
  binary,
  transpose,
  prepareWeights: (w: RecurrentWeights) => new JsPreparedWeights(w),
  rnnLayer,
  lstmLayer,
  gruLayer,
};
