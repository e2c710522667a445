#!/usr/bin/env node
// prepack / prepublishOnly of every package: refuse to pack or publish a manifest that still holds `workspace:`
// ranges with a tool that would ship them as they are. `pnpm pack` and `pnpm publish` rewrite them to real
// versions (`workspace:^` becomes `^0.1.0`) in the tarball; `npm pack` and `npm publish` do not, and the result
// does not install (EUNSUPPORTEDPROTOCOL).
import { readFileSync } from 'node:fs'

const manifest = JSON.parse(readFileSync('package.json', 'utf8'))
const sections = ['dependencies', 'peerDependencies', 'optionalDependencies']
const workspaceRanges = sections.flatMap((section) =>
  Object.entries(manifest[section] ?? {})
    .filter(([, range]) => String(range).startsWith('workspace:'))
    .map(([name, range]) => `${section}.${name}: ${range}`),
)
const userAgent = process.env.npm_config_user_agent ?? ''
const rewritesWorkspaceRanges = userAgent.startsWith('pnpm/')

if (workspaceRanges.length > 0 && !rewritesWorkspaceRanges) {
  console.error(
    `${manifest.name}: refusing to pack with ${userAgent.split(' ')[0] || 'this tool'}: the manifest has workspace ranges\n` +
      workspaceRanges.map((line) => `  ${line}\n`).join('') +
      'that it would publish as they are. Use `pnpm pack` or `pnpm publish`, which replace them with versions.',
  )
  process.exit(1)
}
