// Public entry point of @recur/core-tensor.

export { BACKEND_INTERFACE_VERSION, gateCount } from './backend.js';
export type {
  Backend,
  BinaryOp,
  LayerArgs,
  MatmulOptions,
  PreparedWeights,
  RecurrentMode,
  RecurrentWeights,
  UnaryOp,
} from './backend.js';
export {
  ArgumentError,
  BackendError,
  RangeArgumentError,
  RecurError,
  SafetensorsError,
  ShapeError,
  StateDictError,
  describeValue,
  formatShape,
} from './errors.js';
export { checkLayerArgs } from './layer-args.js';
export { checkBroadcast, checkMatmulArgs, outArray, planPermutation } from './primitive-args.js';
export {
  activeBackend,
  backendStatus,
  getBackend,
  listBackends,
  ready,
  registerBackend,
  setBackend,
  unregisterBackend,
} from './registry.js';
export { Generator, deterministicLog, globalGenerator, manualSeed } from './rng.js';
export { Tensor, checkShape, full, ones, rand, randn, tensor, zeros } from './tensor.js';
export type { DType, NestedArray, RandomOptions } from './tensor.js';
