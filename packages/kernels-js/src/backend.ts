// `jsBackend`: the whole Backend interface in plain TypeScript. Runs everywhere, needs no
// initialisation, and is the reference every other backend is tested against.

import { BACKEND_INTERFACE_VERSION, type Backend, type RecurrentWeights, checkMatmulArgs, outArray } from '@recur/core-tensor';
import { binary, transpose, unary } from './elementwise.js';
import { gemmPacked, packPanels } from './gemm.js';
import { JsPreparedWeights, gruLayer, lstmLayer, rnnLayer } from './layers.js';

const matmul: Backend['matmul'] = (a, b, m, k, n, options) => {
  checkMatmulArgs(a, b, m, k, n, options?.transB ?? false);
  const out = outArray('matmul', options?.out, m * n);
  const panels = options?.transB ? packPanels(b, k, n, 1, k) : packPanels(b, k, n);
  gemmPacked(m, n, k, a, 0, k, panels, out, 0, n, options?.accumulate ?? false);
  return out;
};

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
