import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Real ffmpeg, models and servers: give them time, and run files one at a
    // time on small CI machines so timing-sensitive supervision tests stay honest.
    // Generous: the machine may be shared and busy. Tests wait for conditions
    // with bounded polls; these limits only stop a test that truly hangs.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    fileParallelism: false,
    pool: 'forks',
    reporters: ['default'],
  },
});
