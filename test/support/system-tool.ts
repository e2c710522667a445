import { existsSync } from 'node:fs'

/**
 * A Debian tool a suite starts for real (dnsmasq, prometheus), under the same rule as nginx: in CI (`CI` set) a
 * missing tool fails the suite (`.ci/run` installs it); on a developer's machine the suite is skipped with a loud
 * message naming the package, so `pnpm test` still runs everything else.
 */
export function systemToolMissing(binary: string, pkg: string): boolean {
  if (existsSync(binary)) return false
  if (process.env.CI) return false // the suite runs and fails with the tool's own "missing" error
  console.warn(`\n${'!'.repeat(78)}\n!! SKIPPING tests that need ${binary}: install it (\`apt-get install -y ${pkg}\`; .ci/run does)\n${'!'.repeat(78)}\n`)
  return true
}
