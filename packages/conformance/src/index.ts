// The conformance suite every backend runs (private workspace package, used by the tests only).

export { ATOL, RTOL, compareClose } from './allclose.js';
export type { CloseReport } from './allclose.js';
export { batchSizesOf, describeKernelConformance, paddedLayerArgs, randomWeights, runFused } from './kernels.js';
export { referenceLayer } from './reference.js';
export type { ReferenceWeights } from './reference.js';
export { describeBackwardConformance } from './backward.js';
