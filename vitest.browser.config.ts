import { defineConfig } from 'vitest/config';

// The teaching page in headless Chromium (npm run test:browser, after npm run build:web).
export default defineConfig({
  test: {
    include: ['tests/browser/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    globalSetup: ['tests/tmp-root.ts'],
  },
});
