import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const src = (p: string) => fileURLToPath(new URL(p, import.meta.url))

// Tests run against the TypeScript sources; multi-process tests spawn the built packages (pnpm build first).
export default defineConfig({
  resolve: {
    alias: {
      // The subpath first: an alias also matches the paths below its key.
      '@session-cluster/core/testing': src('./packages/core/src/testing/index.ts'),
      '@session-cluster/core': src('./packages/core/src/index.ts'),
      '@session-cluster/express': src('./packages/express/src/index.ts'),
      '@session-cluster/fastify': src('./packages/fastify/src/index.ts'),
      '@session-cluster/prometheus': src('./packages/prometheus/src/index.ts'),
    },
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: ['default'],
  },
})
