// The demo (`node examples/demo/demo.js`) in a real browser: the dashboard lists three live nodes, a cart
// item added through the front survives a click on the serving node's Kill button, and the killed node
// shows as down; Add node and Start bring the cluster to four; SIGTERM to the demo stops every process it started.
import { type ChildProcess, spawn } from 'node:child_process'
import { afterEach, describe, expect, it } from 'vitest'
import { assertBuilt, REPO_ROOT } from '../support/app-node.js'
import { freePort } from '../support/ports.js'
import { waitFor } from '../support/wait.js'
import { type Browser, CHROMIUM_MISSING, chromiumAvailability, launchBrowser } from './support/browser.js'

interface NodeView {
  route: string
  state: 'up' | 'starting' | 'down'
  pid: number | null
  members: Array<{ route: string; state: string }> | null
}
interface Snapshot {
  front: { kind: string; port: number }
  nodes: NodeView[]
}

const browserCheck = chromiumAvailability()

if (browserCheck.failInCi) {
  it('needs Chromium (CI is set, so a missing Chromium is a failure, not a skip)', () => {
    throw new Error(CHROMIUM_MISSING)
  })
}

/** `node examples/demo/demo.js` on free ports, with its output kept for failure messages. */
async function startDemo() {
  const frontPort = await freePort()
  const dashboardPort = await freePort()
  const output: string[] = []
  const child: ChildProcess = spawn(process.execPath, ['examples/demo/demo.js'], {
    cwd: REPO_ROOT,
    env: { ...process.env, DEMO_PORT: String(frontPort), DEMO_DASHBOARD_PORT: String(dashboardPort), DEMO_QUIET: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const collect = (c: Buffer) => output.push(...c.toString('utf8').split('\n').filter(Boolean))
  child.stdout?.on('data', collect)
  child.stderr?.on('data', collect)
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  )
  const tail = () => `--- demo output ---\n${output.slice(-40).join('\n')}`
  const dashboard = `http://127.0.0.1:${dashboardPort}/`
  const snapshot = async (): Promise<Snapshot> => {
    const res = await fetch(`${dashboard}api/nodes`, { signal: AbortSignal.timeout(2_000) })
    if (res.status !== 200) throw new Error(`GET /api/nodes: ${res.status}`)
    return (await res.json()) as Snapshot
  }
  const running = () => child.exitCode === null && child.signalCode === null
  /** SIGTERM (the demo's own clean stop), SIGKILL after `ms`. */
  const stop = async (ms = 12_000) => {
    if (!running()) return exited
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), ms)
    const result = await exited
    clearTimeout(timer)
    return result
  }

  const ready = await waitFor(
    'the demo to start three ready nodes and its dashboard',
    async () => {
      if (!running()) throw new Error(`the demo exited during startup (code ${child.exitCode})\n${tail()}`)
      const s = await snapshot().catch(() => undefined)
      return s && s.nodes.length === 3 && s.nodes.every((n) => n.state === 'up') ? s : undefined
    },
    { timeoutMs: 30_000, intervalMs: 100, describe: tail, rethrow: (e) => e instanceof Error && e.message.startsWith('the demo exited') },
  )
  return { child, dashboard, frontPort, ready, snapshot, stop, tail, running }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe.skipIf(browserCheck.skip)('browser: the demo dashboard', () => {
  const cleanups: Array<() => Promise<unknown>> = []
  afterEach(async () => {
    while (cleanups.length > 0) await cleanups.pop()!().catch(() => undefined)
  })

  it('shows the nodes, kills the serving node from its button, and the cart survives', async () => {
    assertBuilt('express-cart')
    const demo = await startDemo()
    cleanups.push(() => demo.stop())
    const browser: Browser = await launchBrowser(browserCheck.chromium!)
    cleanups.push(() => browser.close())
    const { page } = browser
    const pageErrors: string[] = []
    page.on('pageerror', (err) => pageErrors.push(err.message))
    page.on('dialog', (d) => {
      pageErrors.push(`dialog: ${d.message()}`)
      void d.dismiss()
    })

    // 1. The dashboard: three cards, all up, each seeing the two others as alive members.
    await page.goto(demo.dashboard)
    for (const route of ['node1', 'node2', 'node3']) {
      await page.locator(`.card[data-route="${route}"][data-state="up"]`).waitFor({ timeout: 10_000 })
    }
    await expect
      .poll(async () => page.locator('.card .members .chip.alive').count(), { timeout: 15_000, message: 'every node sees two alive members' })
      .toBe(6)
    expect(await page.locator('#meta').textContent()).toContain(`:${demo.frontPort}/`)
    // The header counts the live nodes; the demo runs with a cluster secret; each node reports its message rates.
    await page.locator('#live-count[data-live="3"]').waitFor({ timeout: 10_000 })
    expect(await page.locator('#secured').textContent()).toContain('encrypted')
    await expect.poll(async () => page.locator('.card[data-route="node1"] dd.rates').textContent(), { timeout: 10_000 }).toMatch(/\d out · \d/)
    // Every node reported its state transfer as done.
    await expect.poll(async () => page.locator('#cluster-events li[data-kind="state-transfer-done"]').count(), { timeout: 10_000 }).toBe(3)
    // The cart page of the front, embedded.
    await expect.poll(async () => (await page.frameLocator('#cart-frame').locator('#node').textContent({ timeout: 10_000 }))?.trim()).toMatch(/^node[123]$/)

    // 2. Add two items through the front with the dashboard's cart panel; it names the serving node.
    let seq = 0
    /** Click and wait for the next answer in the cart panel. */
    const answer = async (button: string) => {
      await page.click(button)
      seq++
      await page.locator(`#last-answer[data-seq="${seq}"]`).waitFor({ timeout: 15_000 })
      return {
        node: (await page.locator('#answer-node').textContent({ timeout: 1_000 }).catch(() => null))?.trim(),
        items: await page.locator('#answer-items').textContent({ timeout: 1_000 }).catch(() => null),
        text: await page.locator('#last-answer').textContent(),
      }
    }
    for (const item of ['apple', 'pear']) {
      await page.fill('#cart-item', item)
      const a = await answer('#cart-add')
      expect(a.items, a.text ?? '').toContain(item)
    }
    expect(await page.locator('#answer-items').textContent()).toBe('apple, pear')
    const servedBy = (await page.locator('#answer-node').textContent())?.trim() ?? ''
    expect(servedBy).toMatch(/^node[123]$/)
    await page.locator(`.card.served[data-route="${servedBy}"]`).waitFor({ timeout: 5_000 })
    // Where the session lives: this browser's session, held by all three nodes; saves show a replication latency.
    await expect.poll(async () => page.locator('#sessions tr.yours td.held').count(), { timeout: 10_000 }).toBe(3)
    await expect.poll(async () => page.locator(`.card[data-route="${servedBy}"] dd.latency`).textContent(), { timeout: 10_000 }).toMatch(/ms per save/)
    // The embedded cart page reloaded after the action: it shows the two items without a click on Reload.
    await expect.poll(async () => page.frameLocator('#cart-frame').locator('#count').textContent({ timeout: 5_000 }), { timeout: 10_000 }).toBe('2')
    await browser.screenshot('demo-1-dashboard')

    // 3. Click Kill on that node: its card turns down within a bounded wait, its process is gone.
    const victimPid = demo.ready.nodes.find((n) => n.route === servedBy)?.pid
    expect(victimPid).toBeGreaterThan(0)
    await page.click(`.card[data-route="${servedBy}"] button[data-action="kill"]`)
    await page.locator(`.card[data-route="${servedBy}"][data-state="down"]`).waitFor({ timeout: 10_000 })
    expect(await page.locator(`.card[data-route="${servedBy}"] .badge.state`).textContent()).toMatch(/down/)
    expect(alive(victimPid!), `the killed node (pid ${victimPid}) is gone`).toBe(false)

    // 4. The cart is intact, served by a survivor (the front retries past the dead node).
    for (let i = 0; i < 3; i++) {
      const a = await answer('#cart-read')
      expect(a.items, `${a.text}\n${demo.tail()}`).toBe('apple, pear')
      expect(a.node).not.toBe(servedBy)
    }

    // 5. The survivors drop the killed node from their membership (suspected, verified, removed).
    const survivors = ['node1', 'node2', 'node3'].filter((r) => r !== servedBy)
    await waitFor(
      `the survivors to drop ${servedBy} from their members`,
      async () => {
        const s = await demo.snapshot()
        const views = s.nodes.filter((n) => survivors.includes(n.route))
        return views.every((n) => n.state === 'up' && n.members && !n.members.some((m) => m.route === servedBy)) ? true : undefined
      },
      { timeoutMs: 20_000, intervalMs: 250, describe: demo.tail },
    )
    // The cluster panels: the header counts two live nodes, and a survivor reports the killed node removed.
    await page.locator('#live-count[data-live="2"]').waitFor({ timeout: 10_000 })
    await page.locator(`#cluster-events li[data-kind="removed"][data-route="${servedBy}"]`).first().waitFor({ timeout: 10_000 })
    // On the page too: the two survivors each list exactly one member, the other survivor, alive.
    await expect.poll(async () => page.locator('.card .members .chip').count(), { timeout: 5_000 }).toBe(2)
    expect(await page.locator('.card .members .chip.alive').count()).toBe(2)
    // The embedded cart page, reloaded through the front: the same two items.
    await page.click('#reload-frame')
    const frame = page.frameLocator('#cart-frame')
    await expect.poll(async () => frame.locator('#count').textContent({ timeout: 5_000 }), { timeout: 10_000 }).toBe('2')
    expect(await frame.locator('#items li').allTextContents()).toEqual(['apple', 'pear'])
    expect((await frame.locator('#node').textContent())?.trim()).not.toBe(servedBy)
    await browser.screenshot('demo-2-after-kill')
    expect(pageErrors).toEqual([])

    // 6. Add a node from the dashboard: node4 joins (state transfer) and serves the same cart; then the
    //    killed node starts again on its ports.
    await page.click('#add-node')
    await page.locator('.card[data-route="node4"][data-state="up"]').waitFor({ timeout: 20_000 })
    await page.click(`.card[data-route="${servedBy}"] button[data-action="restart"]`)
    await page.locator(`.card[data-route="${servedBy}"][data-state="up"]`).waitFor({ timeout: 20_000 })
    await waitFor(
      'four nodes that each see the three others alive',
      async () => {
        const s = await demo.snapshot()
        return s.nodes.length === 4 && s.nodes.every((n) => n.state === 'up' && n.members?.filter((m) => m.state === 'alive').length === 3) ? true : undefined
      },
      { timeoutMs: 20_000, intervalMs: 250, describe: demo.tail },
    )
    // Both new processes received the session by state transfer (one session: this browser's cart).
    for (const route of ['node4', servedBy]) {
      await expect.poll(async () => page.locator(`.card[data-route="${route}"] dd.sessions`).textContent(), { timeout: 5_000 }).toBe('1')
    }
    for (let i = 0; i < 4; i++) {
      const a = await answer('#cart-read')
      expect(a.items, `${a.text}\n${demo.tail()}`).toBe('apple, pear')
    }
    await expect.poll(async () => page.locator('.card .members .chip.alive').count(), { timeout: 5_000 }).toBe(12)
    await browser.screenshot('demo-3-added-and-restarted')
    expect(pageErrors).toEqual([])

    // 7. SIGTERM to the demo stops everything it started.
    const pids = (await demo.snapshot()).nodes.map((n) => n.pid).filter((p): p is number => typeof p === 'number')
    expect(pids).toHaveLength(4)
    const exit = await demo.stop()
    expect(exit.code, demo.tail()).toBe(0)
    for (const pid of pids) expect(alive(pid), `node pid ${pid} outlived the demo`).toBe(false)
  }, 60_000)
})
