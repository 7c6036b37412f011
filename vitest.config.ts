import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const simulatorSource = fileURLToPath(new URL('./simulator/src/index.ts', import.meta.url));
const alias = { '@gitlab-extern/simulator': simulatorSource };

export default defineConfig({
  resolve: { alias },
  test: {
    projects: [
      {
        resolve: { alias },
        test: { name: 'simulator', include: ['simulator/test/**/*.test.ts'], environment: 'node' },
      },
      {
        resolve: { alias },
        test: { name: 'unit', include: ['test/unit/**/*.test.{ts,tsx}'], environment: 'node' },
      },
      {
        resolve: { alias },
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.{ts,tsx}'],
          environment: 'node',
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        resolve: { alias },
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
