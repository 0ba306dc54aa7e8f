import { describeKernelConformance } from '@recur/conformance';
import { beforeAll, describe, expect, it } from 'vitest';
import { createWasmBackend, wasmBackend } from '../src/index.js';

// Both builds of the kernels: the default backend (relaxed SIMD where the engine has it; the test
// runner turns it on) and the plain 128-bit SIMD build.
const simd128 = createWasmBackend({ name: 'wasm-simd128', relaxedSimd: false });

beforeAll(async () => {
  await wasmBackend.init();
  await simd128.init();
});

describe('kernel builds', () => {
  it('the default backend runs relaxed SIMD where available, the other the plain build', () => {
    expect(wasmBackend.kernelVariant()).toBe('relaxed-simd');
    expect(simd128.kernelVariant()).toBe('simd128');
  });
});

describeKernelConformance('wasm (relaxed SIMD)', () => wasmBackend);
describeKernelConformance('wasm (SIMD128)', () => simd128);
