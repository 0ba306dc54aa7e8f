import { defineConfig } from 'vite';

export default defineConfig({
  // The worker is an ES module (new Worker(url, { type: 'module' })) that imports recur.
  worker: { format: 'es' },
});
