import { defineConfig } from 'tsup'

// One build for every package: ESM for modern users, CJS for `require` users of Express; declarations for both.
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: { compilerOptions: { paths: {} } },
  sourcemap: true,
  clean: true,
  target: 'node20',
})
