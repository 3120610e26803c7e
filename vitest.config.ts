import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

/**
 * Test files run at once (unit and integration; e2e and chaos stay one at a time). Vitest's
 * default is cores − 1, which on a 2-core machine runs everything one file after another; the
 * integration files mostly wait on their own Redis and sockets, so two at a time fit 2 cores.
 * HARK_TEST_WORKERS overrides it.
 */
const WORKERS = Number(process.env.HARK_TEST_WORKERS) || Math.max(2, availableParallelism() - 1);

// One project per package. Integration tests start their own Redis per file;
// end-to-end tests drive one Chromium each, so they run one file at a time.
export default defineConfig({
  test: {
    maxWorkers: WORKERS,
    projects: [
      { extends: false, test: { name: 'shared', root: 'shared', include: ['src/**/*.test.ts'] } },
      { extends: false, test: { name: 'server', root: 'server', include: ['src/**/*.test.ts', 'test/**/*.test.ts'], testTimeout: 30_000, hookTimeout: 30_000 } },
      { extends: false, test: { name: 'widget', root: 'widget', include: ['src/**/*.test.ts'] } },
      { extends: false, test: { name: 'console', root: 'console', include: ['src/**/*.test.ts'] } },
      // Long fault-injection scenarios: `pnpm test:chaos` (CI runs it too).
      ...(process.env.HARK_CHAOS
        ? [{ extends: false as const, test: { name: 'chaos', root: 'server', include: ['chaos/**/*.test.ts'], testTimeout: 300_000, hookTimeout: 120_000, fileParallelism: false } }]
        : []),
      {
        extends: false,
        test: { name: 'e2e', root: 'e2e', include: ['**/*.test.ts'], exclude: ['node_modules/**'], testTimeout: 60_000, hookTimeout: 60_000, fileParallelism: false },
      },
    ],
  },
});
