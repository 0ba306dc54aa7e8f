import { describeKernelConformance } from '@recur/conformance';
import { beforeAll } from 'vitest';
import { wasmBackend } from '../src/index.js';

beforeAll(async () => {
  await wasmBackend.init();
});

describeKernelConformance('wasm', () => wasmBackend);
