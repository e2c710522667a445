// The end-to-end suite every example app runs (express-cart.e2e.test.ts, fastify-cart.e2e.test.ts):
// real node processes on loopback, a real nginx (round-robin and sticky configs of examples/nginx),
// nodes killed and restarted. Shared so both frameworks pass exactly the same cases.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { type AddressInfo, createServer, type Socket } from 'node:net'
import { afterEach, describe, expect, it, onTestFailed } from 'vitest'
import {
  type AppName,
  type Cluster,
  HttpClient,
  NGINX_MISSING,
  type Nginx,
  type NginxMode,
  REPO_ROOT,
  type Replication,
  routeOfSid,
  startCluster,
  startNginx,
  waitFor,
  freePort,
} from '../support/index.js'
import { nginxAvailability } from '../support/nginx.js'

interface CartBody {
  node: string
  sessionId: string
  items: string[]
}
interface AttrBody {
  node: string
  sessionId: string
  attrs: Record<string, unknown>
}

const MODES: NginxMode[] = ['round-robin', 'sticky']
const LONG = 180_000

/** First occurrence of each item, in order: a GET retried by nginx after a node died may add twice. */
const dedupe = (items: string[]) => [...new Set(items)]

export function defineCartE2E(app: AppName): void {
  const cleanups: Array<() => Promise<void>> = []
  afterEach(async () => {
    while (cleanups.length > 0) await cleanups.pop()!().catch((err) => console.error('cleanup failed:', err))
  })

  /** Register diagnostics for a failing test: every node's last output and nginx's error log. */
  function diagnose(cluster: Cluster, nginx?: Nginx): void {
    onTestFailed(() => {
      console.error(`--- ${app}: node output ---\n${cluster.tails()}`)
      if (nginx) console.error(`--- nginx error.log ---\n${nginx.errorLog().slice(-4000)}`)
    })
  }

  async function cluster3(replication: Replication, env?: Record<string, string>, size = 3): Promise<Cluster> {
    const cluster = await startCluster({ app, replication, env, size })
    cleanups.push(() => cluster.dispose())
    return cluster
  }

  async function behind(mode: NginxMode, cluster: Cluster): Promise<Nginx> {
    const nginx = await startNginx({ mode, nodes: cluster.nodes.map((n) => n.httpAddress) })
    cleanups.push(() => nginx.stop())
    diagnose(cluster, nginx)
    return nginx
  }

  /** `host:port` of a listener that accepts connections and never sends a byte (closed after the test). */
  async function silentMember(): Promise<string> {
    const sockets = new Set<Socket>()
    const server = createServer((socket) => {
      sockets.add(socket)
      socket.on('error', () => {})
      socket.on('close', () => sockets.delete(socket))
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    cleanups.push(async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => server.close(resolve))
    })
    return `127.0.0.1:${(server.address() as AddressInfo).port}`
  }

  function client(baseUrl: string, jar?: HttpClient['jar']): HttpClient {
    const c = new HttpClient(baseUrl, { jar })
    cleanups.push(async () => c.close())
    return c
  }

  // ---------------------------------------------------------------------------------------------------
  describe(`${app}: the example contract on one node`, () => {
    it('serves /cart, /attr, the page, static files and /cluster/status; exits 0 on SIGTERM within 5 s', async () => {
      const cluster = await startCluster({ app, size: 1, env: { MANAGER: 'backup' } })
      cleanups.push(() => cluster.dispose())
      diagnose(cluster)
      const node = cluster.nodes[0]!

      const status = await node.status()
      expect(status.status).toBe(200)
      expect(status.body).toMatchObject({ route: 'node1', ready: true, members: [], sessions: 0, manager: 'backup' })

      // Static files: served, no cookie, no session.
      const anon = client(node.url)
      for (const [path, type] of [
        ['/static/style.css', /text\/css/],
        ['/static/logo.svg', /image\/svg\+xml/],
      ] as const) {
        const res = await anon.get(path)
        expect(res.status).toBe(200)
        expect(String(res.headers['content-type'])).toMatch(type)
        expect(res.setCookies).toEqual([])
      }
      expect((await anon.get('/static/missing.css')).status).toBe(404)
      expect((await node.status()).body?.sessions).toBe(0)

      const browser = client(node.url)
      const first = await browser.get('/cart?add=apple')
      expect(first.status).toBe(200)
      const sid = first.setCookies.find((c) => c.startsWith('sid='))
      expect(sid, 'a session cookie named sid').toBeDefined()
      expect(sid).not.toMatch(/;\s*secure/i) // plain HTTP
      expect(sid).toMatch(/;\s*httponly/i)
      expect(browser.route).toBe('node1')
      const cart = first.json<CartBody>()
      expect(cart).toEqual({ node: 'node1', sessionId: expect.stringMatching(/^[A-Za-z0-9_-]{22,}\.node1$/), items: ['apple'] })
      expect(await browser.getJson<CartBody>('/cart')).toEqual({ ...cart, items: ['apple'] })

      const attr = await browser.getJson<AttrBody>('/attr?key=color&value=red')
      expect(attr).toEqual({ node: 'node1', sessionId: cart.sessionId, attrs: { items: ['apple'], color: 'red' } })
      expect(await browser.getJson<AttrBody>('/attr?key=color')).toEqual(attr)
      expect((await browser.get('/attr?key=__proto__&value=x')).status).toBe(400)

      // The page: known session, then a fresh browser (new session), then the form.
      const page = await browser.get('/')
      expect(page.status).toBe(200)
      expect(String(page.headers['content-type'])).toMatch(/text\/html/)
      expect(page.body).toContain(cart.sessionId)
      expect(page.body).toContain('<li>apple</li>')
      expect(page.body).toMatch(/id="is-new">false</)
      expect(page.body).toMatch(/<form method="post" action="\/">/)
      const fresh = await client(node.url).get('/')
      expect(fresh.body).toMatch(/id="is-new">true</)
      const posted = await browser.postForm('/', { add: 'pear <b>' })
      expect(posted.status).toBe(303)
      expect(posted.headers.location).toBe('/')
      expect((await browser.getJson<CartBody>('/cart')).items).toEqual(['apple', 'pear <b>'])
      expect((await browser.get('/')).body).toContain('<li>pear &#60;b&#62;</li>')
      expect((await browser.get('/?add=plum')).body).toContain('<li>plum</li>')

      expect((await node.status()).body?.sessions).toBeGreaterThanOrEqual(2)

      const exit = await node.stop()
      expect(exit.code, node.tail()).toBe(0)
      expect(exit.ms).toBeLessThan(5_000)
    }, 60_000)

    it('SIGTERM while still starting (state transfer pending, status 503) also exits 0 within 5 s', async () => {
      // A listed member that accepts connections and never answers keeps the node in discovery (up to the state
      // transfer timeout): SIGTERM it then. A refused port would not do: no node stands behind it, so the node
      // does not wait for it and may be ready before the first poll.
      const silent = await silentMember()
      const port = await freePort()
      const child = spawn(process.execPath, [`examples/${app}/server.js`], {
        cwd: REPO_ROOT,
        env: { ...process.env, PORT: String(port), CLUSTER_PORT: '0', ROUTE: 'early', CLUSTER_MEMBERS: silent },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let output = ''
      child.stdout.on('data', (c) => (output += c))
      child.stderr.on('data', (c) => (output += c))
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        child.once('exit', (code, signal) => resolve({ code, signal })),
      )
      // it answers 503 until state transfer is done: that is the moment to stop it
      await waitFor(
        'the node to answer 503 while starting',
        async () => ((await fetch(`http://127.0.0.1:${port}/cluster/status`).catch(() => undefined))?.status === 503 ? true : undefined),
        { timeoutMs: 15_000 },
      )
      const t0 = Date.now()
      child.kill('SIGTERM')
      const exit = await exited
      expect(exit, output).toEqual({ code: 0, signal: null })
      expect(Date.now() - t0).toBeLessThan(5_000)
    }, 30_000)

    it('refuses a bad configuration with exit code 1', async () => {
      // A contract variable, and one of the optional timing extras.
      for (const [name, value] of [
        ['REPLICATION', 'sometimes'],
        ['CLUSTER_ACK_TIMEOUT_MS', '1.5s'],
      ] as const) {
        const child = spawn(process.execPath, [`examples/${app}/server.js`], {
          cwd: REPO_ROOT,
          env: { ...process.env, PORT: '0', CLUSTER_PORT: '0', [name]: value },
          stdio: ['ignore', 'pipe', 'pipe'],
        })
        let output = ''
        child.stdout.on('data', (c) => (output += c))
        child.stderr.on('data', (c) => (output += c))
        const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)))
        expect(code, output).toBe(1)
        expect(output).toMatch(new RegExp(`configuration error: ${name}`))
      }
    }, 20_000)
  })

  // ---------------------------------------------------------------------------------------------------
  const { skip, failInCi } = nginxAvailability()
  if (failInCi) {
    describe(`${app} behind nginx`, () => {
      it('needs nginx (CI is set, so a missing nginx is a failure, not a skip)', () => {
        throw new Error(NGINX_MISSING)
      })
    })
  }

  /**
   * The failover cases, on three nodes with the default manager and on five with MANAGER=backup (each session on
   * its primary and one backup: a node that serves a session it does not hold fetches it).
   */
  const LAYOUTS = [
    { title: 'three nodes', size: 3, env: undefined, backup: false },
    { title: 'five nodes, MANAGER=backup', size: 5, env: { MANAGER: 'backup' }, backup: true },
  ]
  for (const layout of LAYOUTS)
  describe.skipIf(skip)(`${app}: ${layout.title} behind nginx`, () => {
    for (const mode of MODES) {
      it(`${mode}, sync: items a..j survive SIGKILL of the owner, its restart (state transfer) and SIGTERM of the next owner; no request fails`, async () => {
        const cluster = await cluster3('sync', layout.env, layout.size)
        const nginx = await behind(mode, cluster)
        const browser = client(nginx.url)
        const expected: string[] = []
        // newRoute: the route of a Set-Cookie that changed the cookie's route (@fastify/session re-sends the
        // cookie on every answer, express-session only when it changed).
        const readCart = async () => {
          const before = browser.route
          const res = await browser.get('/cart')
          expect(res.status, res.body).toBe(200)
          // The last sid Set-Cookie wins (a rebind may clear the old cookie first, as browsers apply them in order).
          const set = routeOfSid(res.setCookies.filter((c) => c.startsWith('sid=')).at(-1)?.slice(4).split(';')[0])
          return { res, body: res.json<CartBody>(), newRoute: set !== undefined && set !== before ? set : undefined }
        }

        // Static files through nginx: no cookie, no session anywhere.
        const asset = await client(nginx.url).get('/static/logo.svg')
        expect(asset.status).toBe(200)
        expect(asset.setCookies).toEqual([])

        // 1. Add a..j, one request each: every answer has everything added so far.
        const nodesSeen = new Set<string>()
        for (const item of 'abcdefghij') {
          const body = await browser.getJson<CartBody>(`/cart?add=${item}`)
          expected.push(item)
          nodesSeen.add(body.node)
          expect(body.items).toEqual(expected)
        }
        const owner1 = cluster.byRoute(browser.route)
        if (mode === 'sticky') expect([...nodesSeen], 'sticky: every request on the owner').toEqual([owner1.route])
        else expect(nodesSeen.size, 'round-robin spreads the requests').toBe(layout.size)

        // 2. SIGKILL the owner; reload: everything is there (served by a backup / another node).
        await owner1.kill('SIGKILL')
        const reload = await readCart()
        expect(reload.body.items).toEqual(expected)
        expect(reload.body.node).not.toBe(owner1.route)
        let rebound = reload.newRoute !== undefined && reload.newRoute !== owner1.route ? reload : undefined

        // 3. Once the survivors dropped the dead owner, the next answer rebinds the session to the node
        //    that serves it (Set-Cookie with its route); with sticky nginx later requests stay there.
        await cluster.waitMembership()
        if (!rebound) {
          const next = await readCart()
          expect(next.body.items).toEqual(expected)
          expect(next.newRoute, 'the first answer after failover sets a cookie with a new route').toBeDefined()
          rebound = next
        }
        const newRoute = rebound.newRoute!
        expect(newRoute).not.toBe(owner1.route)
        expect(rebound.body.node).toBe(newRoute)
        expect(rebound.body.sessionId.endsWith(`.${newRoute}`)).toBe(true)
        expect(browser.route).toBe(newRoute)
        for (let i = 0; i < 6; i++) {
          const again = await readCart()
          expect(again.body.items).toEqual(expected)
          expect(again.newRoute, 'no further rebinding while the new owner lives').toBeUndefined()
          if (mode === 'sticky') expect(again.body.node, 'sticky: stays on the new owner').toBe(newRoute)
        }
        expect(browser.route).toBe(newRoute)

        // 4. Restart the killed node: it holds the sessions before it reports ready; read through it directly.
        const firstStatus = await owner1.start()
        expect(firstStatus.ready).toBe(true)
        // (With backup, a restarted node holds only the sessions it owns: this one is bound elsewhere now.)
        if (!layout.backup) {
          expect(firstStatus.sessions, `sessions received by state transfer before ready: ${JSON.stringify({ ...firstStatus, counters: undefined })}`).toBeGreaterThanOrEqual(1)
        }
        const direct = await client(owner1.url, browser.jar.clone()).getJson<CartBody>('/cart')
        expect(direct).toMatchObject({ node: owner1.route, items: expected })
        // Soft: a node that just reported ready must not take over sessions whose node is alive.
        expect
          .soft(direct.sessionId, 'the restarted node rebound a session whose node is alive (ready before it knew every member?)')
          .toMatch(new RegExp(`\\.${browser.route}$`))
        await cluster.waitMembership()
        expect((await readCart()).body.items).toEqual(expected)

        // 5. SIGTERM the current owner: graceful exit 0 within 5 s; the next reload has everything and a live route.
        const owner2 = cluster.byRoute(browser.route)
        const exit = await owner2.stop()
        expect(exit.code, owner2.tail()).toBe(0)
        expect(exit.ms).toBeLessThan(5_000)
        const afterStop = await readCart()
        expect(afterStop.body.items).toEqual(expected)
        expect(afterStop.body.node).not.toBe(owner2.route)
        // Soft: a SIGTERMed node says goodbye, so the survivors drop it at once and the first answer rebinds.
        expect.soft(afterStop.newRoute, 'a member that left is dropped at once: the first answer rebinds').toBeDefined()
        await cluster.waitMembership()
        expect((await readCart()).body.items).toEqual(expected)
        const finalRoute = browser.route
        expect(finalRoute, 'the session is bound to a live node').not.toBe(owner2.route)
        expect(cluster.nodes.filter((n) => n.running).map((n) => n.route)).toContain(finalRoute)
        if (mode === 'sticky') {
          // nginx skips a server for fail_timeout (2 s) after a failure; if the new owner is the node restarted
          // in step 4, a backup may answer (without rebinding: the owner lives) until nginx tries it again.
          await waitFor('nginx to route to the new owner again', async () => ((await readCart()).body.node === finalRoute ? true : undefined), {
            timeoutMs: 5_000,
            intervalMs: 250,
          })
          for (let i = 0; i < 3; i++) expect((await readCart()).body.node, 'sticky: on the new owner').toBe(finalRoute)
        }

        // No request through nginx failed.
        expect(browser.failures).toEqual([])
      }, LONG)

      it(`${mode}, sync: 20 concurrent clients x 50 adds while a node is SIGKILLed and restarted lose no item`, async () => {
        const cluster = await cluster3('sync', layout.env, layout.size)
        const nginx = await behind(mode, cluster)
        const CLIENTS = 20
        const ADDS = 50
        const victim = cluster.nodes[1]!

        // The victim is killed after 200 answers and restarted at once; clients wait at their 40th add
        // until the restart is done, so traffic flows before, during and after the outage.
        let answered = 0
        let reachedKillPoint!: () => void
        const killPoint = new Promise<void>((resolve) => (reachedKillPoint = resolve))
        const outage = (async () => {
          await killPoint
          await victim.kill('SIGKILL')
          return victim.start()
        })()
        outage.catch(() => {})

        const browsers = Array.from({ length: CLIENTS }, () => client(nginx.url))
        const expectedOf = (c: number) => Array.from({ length: ADDS }, (_, i) => `c${c}-${i}`)
        await Promise.all(
          browsers.map(async (browser, c) => {
            for (let i = 0; i < ADDS; i++) {
              if (i === 40) await outage
              const res = await browser.get(`/cart?add=c${c}-${i}`)
              if (++answered === 200) reachedKillPoint()
              // nginx's X-Upstream lists every node the request tried: the chain that failed.
              expect(res.status, `client ${c} add ${i} via ${res.headers['x-upstream']}: ${res.body.slice(0, 200)}`).toBe(200)
            }
          }),
        )
        const restartedStatus = await outage
        expect(restartedStatus.sessions).toBeGreaterThanOrEqual(1) // with backup too: 20 sessions, some of them its own
        await cluster.waitMembership()

        let duplicates = 0
        for (const [c, browser] of browsers.entries()) {
          const viaNginx = await browser.getJson<CartBody>('/cart')
          duplicates += viaNginx.items.length - dedupe(viaNginx.items).length
          expect(dedupe(viaNginx.items), `client ${c} via nginx`).toEqual(expectedOf(c))
          // Every node, the restarted one included, holds the whole cart.
          for (const node of cluster.nodes) {
            const direct = await client(node.url, browser.jar.clone()).getJson<CartBody>('/cart')
            expect(direct.items, `client ${c} on ${node.route}`).toEqual(viaNginx.items)
          }
        }
        const failed = browsers.flatMap((b) => b.failures)
        console.log(
          `[${app} ${mode}] concurrent: ${CLIENTS * ADDS} adds, ${failed.length} failed requests, ` +
            `${duplicates} duplicated items (GETs nginx retried after the kill), 0 lost`,
        )
        expect(failed).toEqual([])
      }, LONG)
    }

    if (layout.backup) return
    it('round-robin, sync: 1,000 sequential adds, every answer has every item added before it (zero stale reads)', async () => {
      const cluster = await cluster3('sync')
      const nginx = await behind('round-robin', cluster)
      const result = await sequentialAdds(client(nginx.url), 1_000, cluster, client)
      console.log(`[${app} round-robin sync] 1000 sequential adds: ${result.stale} stale reads, ${result.mismatches} incomplete answers, ${result.ms} ms`)
      expect(result.nodes).toBe(3)
      expect(result.firstMismatch).toBeUndefined()
      expect(result.stale).toBe(0)
      expect(result.finalItems).toEqual(result.added)
    }, LONG)

    it('round-robin, async: 1,000 sequential adds with the version token: no stale read, nothing lost; without it, stale reads', async () => {
      const cluster = await cluster3('async')
      const nginx = await behind('round-robin', cluster)
      const browser = client(nginx.url)
      const result = await sequentialAdds(browser, 1_000, cluster, client)
      const lost = result.added.filter((item) => !result.finalItems.includes(item)).length
      console.log(
        `[${app} round-robin async] 1000 sequential adds with tokens: ${result.stale} stale reads ` +
          `(answer missing the previous request's item), ${result.mismatches} incomplete answers, ${lost} items lost at the end, ${result.ms} ms`,
      )
      expect(browser.failures).toEqual([])
      // The token cookie (`sid.v`) makes every node catch up to what this browser has seen before it answers.
      expect(browser.jar.get('sid.v')).toBeDefined()
      expect(result.stale).toBe(0)
      expect(result.mismatches).toBe(0)
      expect(lost).toBe(0)
      // A forged or absurd token never breaks a request: ignored, or one bounded fetch.
      for (const forged of ['not a token', `${'z'.repeat(16)}.zzzzzzzzz.0`]) {
        browser.jar.cookies.set('sid.v', encodeURIComponent(forged))
        const body = await browser.getJson<CartBody>('/cart')
        expect(body.items).toEqual(result.added)
      }
      // The same browser without its token (a client that drops the cookie) sees what async always showed.
      const tokenless = client(nginx.url)
      let staleWithout = 0
      let previous: string | undefined
      for (let i = 0; i < 200; i++) {
        tokenless.jar.cookies.delete('sid.v')
        const body = await tokenless.getJson<CartBody>(`/cart?add=t${i}`)
        if (previous !== undefined && !body.items.includes(previous)) staleWithout++
        previous = `t${i}`
      }
      console.log(`[${app} round-robin async] 200 sequential adds without the token: ${staleWithout} stale reads`)
      expect(tokenless.failures).toEqual([])
    }, LONG)
  })
}

/**
 * Add `n` items one request at a time; count answers that miss the previous item or anything earlier. Then wait
 * (bounded) until every node answers the same cart directly: that converged cart is the final one.
 */
async function sequentialAdds(browser: HttpClient, n: number, cluster: Cluster, client: (url: string, jar?: HttpClient['jar']) => HttpClient) {
  const added: string[] = []
  const nodes = new Set<string>()
  let stale = 0
  let mismatches = 0
  let firstMismatch: { index: number; got: number; expected: number } | undefined
  const started = Date.now()
  for (let i = 0; i < n; i++) {
    const item = `i${i}`
    const body = await browser.getJson<CartBody>(`/cart?add=${item}`)
    nodes.add(body.node)
    if (i > 0 && !body.items.includes(added[i - 1]!)) stale++
    added.push(item)
    if (body.items.length !== added.length || body.items.some((x, k) => x !== added[k])) {
      mismatches++
      firstMismatch ??= { index: i, got: body.items.length, expected: added.length }
    }
  }
  const ms = Date.now() - started
  const direct = cluster.nodes.filter((node) => node.running).map((node) => client(node.url, browser.jar.clone()))
  const finalItems = await waitFor(
    'every node to answer the same cart',
    async () => {
      const carts = (await Promise.all(direct.map((c) => c.getJson<CartBody>('/cart')))).map((b) => JSON.stringify(b.items))
      return carts.every((cart) => cart === carts[0]) ? (JSON.parse(carts[0]!) as string[]) : undefined
    },
    { timeoutMs: 10_000 },
  )
  return { added, nodes: nodes.size, stale, mismatches, firstMismatch, finalItems, ms }
}
