// Headless Chromium for the browser tests: the system's Debian `chromium` (never a downloaded browser),
// driven by playwright-core, with a fresh user data dir per launch.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type BrowserContext, chromium, type Page } from 'playwright-core'

export const SCREENSHOT_DIR = fileURLToPath(new URL('../../../test-output/browser/', import.meta.url))

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/lib/chromium/chromium']

export const CHROMIUM_MISSING =
  'Chromium is not installed (looked for CHROMIUM_BIN, /usr/bin/chromium and `chromium` on PATH). ' +
  'Install Debian\'s package: `apt-get install -y chromium` (.ci/run does).'

/** The system Chromium: CHROMIUM_BIN, /usr/bin/chromium, or `chromium` on PATH; undefined if none. */
export function findChromium(): string | undefined {
  if (process.env.CHROMIUM_BIN) return existsSync(process.env.CHROMIUM_BIN) ? process.env.CHROMIUM_BIN : undefined
  const found = CANDIDATES.find((p) => existsSync(p))
  if (found) return found
  const which = spawnSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], { encoding: 'utf8' })
  const path = which.stdout?.trim().split('\n')[0]
  return which.status === 0 && path ? path : undefined
}

/**
 * How a suite treats a missing Chromium: in CI (process.env.CI set) the tests must fail with a clear
 * message; elsewhere they are skipped, loudly.
 */
export function chromiumAvailability(): { chromium: string | undefined; skip: boolean; failInCi: boolean } {
  const bin = findChromium()
  if (bin) return { chromium: bin, skip: false, failInCi: false }
  if (process.env.CI) return { chromium: undefined, skip: true, failInCi: true }
  console.warn(`\n${'!'.repeat(78)}\n!! SKIPPING browser tests: ${CHROMIUM_MISSING}\n${'!'.repeat(78)}\n`)
  return { chromium: undefined, skip: true, failInCi: false }
}

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
]

export interface Browser {
  context: BrowserContext
  page: Page
  /** Save a full-page screenshot as test-output/browser/<name>.png; returns its path. */
  screenshot(name: string, page?: Page): Promise<string>
  close(): Promise<void>
}

/** Launch the system Chromium headless with a fresh, temporary profile (removed on close). */
export async function launchBrowser(executablePath: string): Promise<Browser> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'session-cluster-chromium-'))
  mkdirSync(SCREENSHOT_DIR, { recursive: true })
  let context: BrowserContext
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1360, height: 900 },
      timeout: 30_000,
    })
  } catch (err) {
    rmSync(userDataDir, { recursive: true, force: true })
    throw err
  }
  const page = context.pages()[0] ?? (await context.newPage())
  page.setDefaultTimeout(15_000)
  return {
    context,
    page,
    async screenshot(name, p = page) {
      const path = join(SCREENSHOT_DIR, `${name}.png`)
      await p.screenshot({ path, fullPage: true })
      return path
    },
    async close() {
      await context.close().catch(() => undefined)
      rmSync(userDataDir, { recursive: true, force: true })
    },
  }
}
