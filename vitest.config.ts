import { defineConfig } from 'vitest/config';

// Temporal workers segfault under the `threads` pool (specs/temporal.md §0.6): forks only.
export default defineConfig({
  test: {
    pool: 'forks',
    globalSetup: ['test/support/globalSetup.ts'],
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    teardownTimeout: 60_000,
    // Real servers and 1 GiB files share two cores: keep files from trampling each other.
    maxWorkers: 2,
    fileParallelism: true,
  },
});
