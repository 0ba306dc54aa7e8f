import { defineConfig } from 'vitest/config';

// Browser tests run against the built packages (dist/), served to headless Chromium.
export default defineConfig({
  resolve: { conditions: ['@recur/source'] },
  ssr: { resolve: { conditions: ['@recur/source'] } },
  test: { include: ['test-browser/**/*.test.ts'], testTimeout: 60_000, hookTimeout: 60_000 },
});
