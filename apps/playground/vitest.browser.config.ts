import { defineConfig } from 'vitest/config';

// End-to-end tests: the built site (dist/) in headless Chromium.
export default defineConfig({
  resolve: { conditions: ['@recur/source'] },
  ssr: { resolve: { conditions: ['@recur/source'] } },
  test: { include: ['test/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 120_000 },
});
