// The wasm module's exports: kernels that take byte pointers into the memory the JS side owns.

export { gemm, packB, packedSize } from './gemm';
export { gruLayer, lstmLayer, rnnLayer } from './layers';
export { layerBackward } from './backward';
