import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 600_000,
    // Sandboxes and VMs are real processes; on 2 cores, files run one at a time.
    fileParallelism: false,
    pool: 'forks',
    // The workflow parser imports its schema JSON without an import attribute, which Node refuses;
    // pre-bundled by Vite's esbuild step it loads (dist/cli.js gets the same from scripts/build.mjs).
    deps: { optimizer: { ssr: { enabled: true, include: ['@actions/workflow-parser'] } } },
  },
});
