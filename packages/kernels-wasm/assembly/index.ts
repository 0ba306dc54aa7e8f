// The wasm module's exports: kernels that take byte pointers into the memory the JS side owns.

export { gemm, packB, packB16, packedSize, packedSize16 } from './gemm';
export { queuesInit, runLayer } from './layers';
export { layerBackward } from './backward';
export { setSpins, spinBarriers } from './threads';
