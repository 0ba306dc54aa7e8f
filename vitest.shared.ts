// What every package's vitest config shares: tests run on the TypeScript sources (the @recur/source
// export condition), with generous timeouts (CI runs every suite at once on two cores; speed is
// measured in bench/), and on an engine without relaxed SIMD by default (Node 20) V8's flag turns it
// on, so the relaxed-SIMD build of the wasm kernels runs the whole suite too.

import { defineConfig } from 'vitest/config';

// i8x16.relaxed_swizzle of two splats: valid only where relaxed SIMD is enabled.
const RELAXED_SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 15, 1, 13, 0, 65, 1, 253, 15, 65, 2, 253, 15,
  253, 128, 2, 11,
]);
const execArgv = WebAssembly.validate(RELAXED_SIMD_PROBE) ? [] : ['--experimental-wasm-relaxed-simd'];

export default defineConfig({
  resolve: { conditions: ['@recur/source'] },
  ssr: { resolve: { conditions: ['@recur/source'] } },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    poolOptions: { forks: { execArgv } },
  },
});
