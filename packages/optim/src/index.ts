// Public entry point of @recur/optim.

export { Adam, AdamW } from './adam.js';
export type { AdamOptions } from './adam.js';
export { clipGradNorm, zeroGrad } from './clip.js';
export { Optimizer } from './optimizer.js';
export type { OptimizerState } from './optimizer.js';
export { SGD } from './sgd.js';
export type { SGDOptions } from './sgd.js';
