// The transport benchmark measures pieces @session-cluster/core does not export (see internals.ts): the parent
// process bundles them from the sources into bench/out with tsup; the forked child loads that bundle.
import { fileURLToPath, pathToFileURL } from 'node:url'

const outDir = fileURLToPath(new URL('../out/transport-internals', import.meta.url))

export async function transportInternalsUrl({ build: shouldBuild }) {
  if (shouldBuild) {
    const { build } = await import('tsup')
    await build({
      entry: { internals: fileURLToPath(new URL('./internals.ts', import.meta.url)) },
      outDir,
      format: ['esm'],
      target: 'node20',
      config: false,
      silent: true,
      clean: true,
    })
  }
  return pathToFileURL(`${outDir}/internals.js`).href
}
