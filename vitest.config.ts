import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    exclude: ['e2e/**', 'node_modules/**'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Software WebGPU is CPU-bound: one file at a time uses the two cores better than contention.
    fileParallelism: false,
    pool: 'forks',
  },
});
