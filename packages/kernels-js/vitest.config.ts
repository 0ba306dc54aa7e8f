import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['@recur/source'] },
  ssr: { resolve: { conditions: ['@recur/source'] } },
  // Generous timeouts: CI runs every package's suite at once on two cores; speed is measured in bench/.
  test: { include: ['src/**/*.test.ts', 'test/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 120_000 },
});
