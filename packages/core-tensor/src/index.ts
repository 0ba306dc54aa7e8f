// Public entry point of @recur/core-tensor.

export { BACKEND_INTERFACE_VERSION } from './backend.js';
export type {
  Backend,
  BackendCapabilities,
  DeviceBuffer,
  LayerArgs,
  LayerBackwardArgs,
  MatmulOptions,
  PreparedWeights,
  RecurrentWeights,
  Workspace,
  WorkspaceOptions,
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
export {
  GATE_ORDER,
  advanceStep,
  foldBiases,
  gateCount,
  inferRecurrentLayout,
  layerInputSize,
  outputSizeOf,
  parameterName,
  parseParameterName,
  recurrentParameters,
} from './layout.js';
export type { ParameterRole, ParameterSpec, RecurrentLayout, RecurrentMode, StepCursor } from './layout.js';
export { checkLayerArgs } from './layer-args.js';
export { MAX_ELEMENTS, WASM_MEMORY_BYTES, checkElements } from './limits.js';
export { checkMatmulArgs, outArray } from './primitive-args.js';
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
export type { BackendStatus } from './registry.js';
export { GradError, GradNode, isGradEnabled, needsGrad, noGrad, recordOp } from './autograd.js';
export type { BackwardFn, BackwardOptions } from './autograd.js';
export { cat, stack } from './ops.js';
export { Generator, globalGenerator, manualSeed } from './rng.js';
export { Tensor, full, ones, rand, randn, tensor, zeros } from './tensor.js';
export { warnOnce } from './warnings.js';
export type { DType, NestedArray, RandomOptions, TensorOptions } from './tensor.js';
