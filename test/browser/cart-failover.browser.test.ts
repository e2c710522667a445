// A real browser against three express-cart nodes behind nginx (sticky config): add items with the cart
// page's form, SIGKILL the node that served the page, reload: the items are still listed.
import { afterEach, describe, expect, it } from 'vitest'
import { type Cluster, startCluster } from '../support/app-node.js'
import { NGINX_MISSING, type Nginx, nginxAvailability, startNginx } from '../support/nginx.js'
import { type Browser, CHROMIUM_MISSING, chromiumAvailability, launchBrowser } from './support/browser.js'

const browserCheck = chromiumAvailability()
const nginxCheck = nginxAvailability()

if (browserCheck.failInCi || nginxCheck.failInCi) {
  it('needs Chromium and nginx (CI is set, so a missing one is a failure, not a skip)', () => {
    throw new Error([browserCheck.failInCi && CHROMIUM_MISSING, nginxCheck.failInCi && NGINX_MISSING].filter(Boolean).join('\n'))
  })
}

describe.skipIf(browserCheck.skip || nginxCheck.skip)('browser: cart page through nginx (sticky)', () => {
  const cleanups: Array<() => Promise<void>> = []
  afterEach(async () => {
    while (cleanups.length > 0) await cleanups.pop()!().catch(() => undefined)
  })

  it('items added with the form survive SIGKILL of the node that served them', async () => {
    const cluster: Cluster = await startCluster({ app: 'express-cart', replication: 'sync' })
    cleanups.push(() => cluster.dispose())
    const nginx: Nginx = await startNginx({ mode: 'sticky', nodes: cluster.nodes.map((n) => n.httpAddress) })
    cleanups.push(() => nginx.stop())
    const browser: Browser = await launchBrowser(browserCheck.chromium!)
    cleanups.push(() => browser.close())
    const { page } = browser
    const context = () => `\n--- nginx error.log ---\n${nginx.errorLog()}\n${cluster.tails()}`

    // 1. The cart page through nginx: a new session, empty.
    const first = await page.goto(`${nginx.url}/`)
    expect(first?.status(), context()).toBe(200)
    await expect.poll(() => page.locator('#count').textContent()).toBe('0')

    /** Submit the form (POST / -> 303 -> GET /) and wait for the redirected page to load. */
    const addItem = async (item: string) => {
      await page.fill('input[name="add"]', item)
      const [landing] = await Promise.all([
        page.waitForResponse((r) => r.request().isNavigationRequest() && r.request().method() === 'GET' && r.request().redirectedFrom()?.method() === 'POST'),
        page.click('button[type="submit"]'),
      ])
      expect(landing.status(), context()).toBe(200)
      await page.waitForLoadState('load')
    }

    // 2. Add three items with the form.
    const items = ['apple', 'banana', 'cherry']
    for (const [i, item] of items.entries()) {
      await addItem(item)
      expect(await page.locator('#items li').allTextContents()).toEqual(items.slice(0, i + 1))
    }
    const servedBy = (await page.locator('#node').textContent())?.trim() ?? ''
    const sessionBefore = (await page.locator('#session-id').textContent())?.trim() ?? ''
    expect(cluster.nodes.map((n) => n.route), 'the page names the node that served it').toContain(servedBy)
    expect(sessionBefore.endsWith(`.${servedBy}`), `sticky: the session ${sessionBefore} belongs to ${servedBy}`).toBe(true)
    expect(await page.locator('#is-new').textContent()).toBe('false')
    await browser.screenshot('cart-1-before-kill')

    // 3. SIGKILL the node that served the page (the sticky owner).
    const victim = cluster.byRoute(servedBy)
    const exit = await victim.kill('SIGKILL')
    expect(exit.signal).toBe('SIGKILL')

    // 4. Reload: another node answers with every item (nginx moves to a backup; no error page).
    const reloaded = await page.reload({ waitUntil: 'load' })
    expect(reloaded?.status(), context()).toBe(200)
    const servedAfter = (await page.locator('#node').textContent())?.trim()
    expect(servedAfter, 'a surviving node answers').not.toBe(servedBy)
    expect(await page.locator('#items li').allTextContents(), context()).toEqual(items)
    expect(await page.locator('#count').textContent()).toBe(String(items.length))
    await browser.screenshot('cart-2-after-kill')

    // 5. The cart keeps working on the survivors: one more item, then a reload shows all four.
    await addItem('damson')
    await page.reload({ waitUntil: 'load' })
    expect(await page.locator('#items li').allTextContents(), context()).toEqual([...items, 'damson'])
    const sessionAfter = (await page.locator('#session-id').textContent())?.trim() ?? ''
    // Same session (route binding may have moved its suffix to the new owner).
    expect(sessionAfter.split('.')[0]).toBe(sessionBefore.split('.')[0])
    await browser.screenshot('cart-3-after-failover-add')
  }, 60_000)
})
