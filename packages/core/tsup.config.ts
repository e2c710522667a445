import { rmSync } from 'node:fs'
import { defineConfig, type Options } from 'tsup'
import base from '../../tsup.base.js'

// Two entries: the main one (ESM and CJS) and the test kit `@session-cluster/core/testing` (ESM only: it imports
// vitest, which cannot be required). The ESM build splits shared code into chunks, so both entries share one copy
// of every class. The two builds run side by side, so neither cleans: dist is emptied here, once.
rmSync(new URL('./dist', import.meta.url), { recursive: true, force: true })

export default defineConfig([
  { ...(base as Options), clean: false, format: ['esm'], entry: { index: 'src/index.ts', testing: 'src/testing/index.ts' } },
  { ...(base as Options), clean: false, format: ['cjs'], entry: { index: 'src/index.ts' } },
])
