// `jsBackend`: the whole Backend interface in plain TypeScript. Runs everywhere and needs no
// initialisation, so it is the backend a forward pass falls back to.

import { BACKEND_INTERFACE_VERSION, type Backend, type RecurrentWeights, checkMatmulArgs, outArray } from '@recur/core-tensor';
import { gemmPacked, packPanels } from './gemm.js';
import { layerBackward } from './backward.js';
import { JsPreparedWeights, JsWorkspace, layer } from './layers.js';

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
  capabilities: { backward: true },
  init: async () => {},
  initSync: () => {},
  unavailableReason: () => null,
  matmul,
  prepareWeights: (w: RecurrentWeights) => new JsPreparedWeights(w),
  createWorkspace: (options) => new JsWorkspace(options),
  layer,
  layerBackward,
};
