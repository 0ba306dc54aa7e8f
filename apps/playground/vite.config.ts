import { defineConfig } from 'vite';

// The app runs on the packages' TypeScript sources (the @recur/source export condition), in dev and build.
export default defineConfig({
  base: './',
  resolve: { conditions: ['@recur/source', 'module', 'browser', 'development|production'] },
  build: { target: 'es2022', sourcemap: true },
  server: { host: '127.0.0.1' },
});
