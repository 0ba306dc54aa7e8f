import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['@recur/source'] },
  ssr: { resolve: { conditions: ['@recur/source'] } },
  test: { include: ['src/**/*.test.ts', 'test/**/*.test.ts'] },
});
