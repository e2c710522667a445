// examples/nginx: the rendered defaults match the templates, nginx accepts both configs, and the sticky
// map routes on the route suffix of every cookie format (express-session, the Fastify plugin's `s:`, bare) with
// failover to the backups. Runs against tiny stand-in backends, no session-cluster package needed.
import { readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { renderNginxConfig } from '../../examples/nginx/render.js'
import { HttpClient, NGINX_MISSING, REPO_ROOT, startNginx, testNginxConfig } from '../support/index.js'
import { nginxAvailability } from '../support/nginx.js'

describe('examples/nginx configs', () => {
  it('the committed round-robin.conf and sticky.conf are the templates rendered with the defaults', () => {
    for (const mode of ['round-robin', 'sticky'] as const) {
      const committed = readFileSync(`${REPO_ROOT}examples/nginx/${mode}.conf`, 'utf8')
      expect(committed, `regenerate with: node examples/nginx/render.js ${mode} > examples/nginx/${mode}.conf`).toBe(renderNginxConfig(mode))
      expect(committed).not.toMatch(/\{\{/)
    }
  })

  it('refuses routes that would break the map regex', () => {
    expect(() => renderNginxConfig('sticky', { routes: ['node1', 'node.2', 'node3'] })).toThrow(/bad route/)
  })
})

const { skip, failInCi } = nginxAvailability()

if (failInCi) {
  it('needs nginx (CI is set, so a missing nginx is a failure, not a skip)', () => {
    throw new Error(NGINX_MISSING)
  })
}

describe.skipIf(skip)('examples/nginx with a real nginx', () => {
  const cleanups: Array<() => Promise<void>> = []
  afterEach(async () => {
    while (cleanups.length > 0) await cleanups.pop()!()
  })

  /** A backend that answers its own route; `down()` stops it (connection refused). */
  async function backend(route: string) {
    const server: Server = createServer((req, res) => {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ node: route, cookie: req.headers.cookie ?? null }))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const address = server.address()
    const port = typeof address === 'object' && address ? address.port : 0
    const down = () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
    cleanups.push(async () => {
      if (server.listening) await down()
    })
    return { route, address: `127.0.0.1:${port}`, down }
  }

  async function three(mode: 'round-robin' | 'sticky') {
    const nodes = [await backend('node1'), await backend('node2'), await backend('node3')]
    const nginx = await startNginx({ mode, nodes: nodes.map((n) => n.address) })
    cleanups.push(() => nginx.stop())
    return { nodes, nginx }
  }

  const ask = async (c: HttpClient, cookie?: string) => {
    c.jar.cookies.clear()
    if (cookie) c.jar.cookies.set('sid', cookie)
    const res = await c.get('/cart')
    expect(res.status).toBe(200)
    return res.json<{ node: string }>().node
  }

  it('both configs pass nginx -t', () => {
    for (const mode of ['round-robin', 'sticky'] as const) {
      const r = testNginxConfig(renderNginxConfig(mode, { listen: '127.0.0.1:1', nodes: ['127.0.0.1:2', '127.0.0.1:3', '127.0.0.1:4'] }))
      expect(r.ok, r.output).toBe(true)
    }
  })

  it('round-robin spreads requests and skips a dead node without an error', async () => {
    const { nodes, nginx } = await three('round-robin')
    const c = new HttpClient(nginx.url)
    cleanups.push(async () => c.close())
    const seen = new Set<string>()
    for (let i = 0; i < 6; i++) seen.add(await ask(c))
    expect(seen).toEqual(new Set(['node1', 'node2', 'node3']))
    await nodes[0]!.down()
    for (let i = 0; i < 6; i++) expect(await ask(c)).not.toBe('node1')
    expect(c.failures).toEqual([])
  })

  it('sticky routes on the route suffix of every cookie format and fails over to a backup', async () => {
    const { nodes, nginx } = await three('sticky')
    const c = new HttpClient(nginx.url)
    cleanups.push(async () => c.close())
    const base = 'Ab3_-xYzAb3_-xYzAb3_-xYzAb3_-xYz'
    for (const route of ['node1', 'node2', 'node3']) {
      const formats = [
        `s%3A${base}.${route}.Sig%2Bnat%2Fure`, // express-session
        `s:${base}.${route}.Sig+nat/ure`, // @session-cluster/fastify (cookiePrefix 's:')
        `${base}.${route}.Signature_-x`, // @fastify/session without a prefix
      ]
      for (let i = 0; i < 2; i++) {
        for (const cookie of formats) expect(await ask(c, cookie), cookie).toBe(route)
      }
    }
    // No cookie, or a route nginx does not know: round-robin over all nodes.
    const seen = new Set<string>()
    for (let i = 0; i < 6; i++) seen.add(await ask(c))
    expect(seen.size).toBe(3)
    expect(await ask(c, `${base}.node9.sig`)).toMatch(/^node[123]$/)

    // The owner dies: a backup answers, never an error.
    await nodes[1]!.down()
    for (let i = 0; i < 4; i++) expect(['node1', 'node3']).toContain(await ask(c, `${base}.node2.sig`))
    expect(await ask(c, `${base}.node3.sig`)).toBe('node3')
    expect(c.failures).toEqual([])
  })
})
