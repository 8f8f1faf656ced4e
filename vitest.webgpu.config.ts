import { defineConfig } from 'vitest/config';

// The webgpu group: Dawn on whatever adapter this machine has (a software one in CI: OpenGL over Mesa's
// llvmpipe). It runs in its own process, after the main suite; it skips itself, saying why, when Dawn
// finds no adapter.
export default defineConfig({
  test: {
    include: ['tests/webgpu/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
    globalSetup: ['tests/tmp-root.ts'],
    env: { EGL_PLATFORM: 'surfaceless', BOWCNN_WEBGPU_SOFTWARE: '1' },
  },
});
