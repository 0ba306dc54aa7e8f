import { defineConfig } from 'vite';

/**
 * Cross-origin isolation (SharedArrayBuffer), so the wasm kernels run on several threads in the
 * worker. A static host must send the same headers: see public/_headers and the README.
 */
const crossOriginIsolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

// The app runs on the packages' TypeScript sources (the @recur/source export condition), in dev and build.
export default defineConfig({
  base: './',
  resolve: { conditions: ['@recur/source', 'module', 'browser', 'development|production'] },
  build: { target: 'es2022', sourcemap: true },
  server: { host: '127.0.0.1', headers: crossOriginIsolation },
  preview: { headers: crossOriginIsolation },
});
