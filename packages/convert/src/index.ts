// Public entry point of @recur/convert: models from other tools as recur modules and state dicts.

export { ModelFileError } from './errors.js';
export { loadTorch } from './torch.js';
export { fromOnnx } from './onnx.js';
export type { OnnxNodeOf, OnnxRecurrentNode } from './onnx.js';
export { fromKeras } from './keras.js';
export type { KerasLayerOf, KerasRecurrentLayer } from './keras.js';
