// The demo's control server: the dashboard page and a small JSON API over the nodes.
//   GET  /                          the dashboard (dashboard.html)
//   GET  /api/nodes                 every node's process and /cluster/status, the front, recent events
//   POST /api/nodes                 add a node (next route, new ports, lists every existing member)
//   POST /api/nodes/:route/kill     SIGKILL
//   POST /api/nodes/:route/stop     SIGTERM (graceful: leaves the cluster)
//   POST /api/nodes/:route/restart  stop if running, then start on the same ports
//   GET  /api/cart[?add=NAME]       GET /cart through the front with the browser's cookie, so the page can
//                                   show which node answered (cookies are per host, not per port)
import { readFileSync } from 'node:fs'
import { createServer, request } from 'node:http'
import { sessionRef } from '../../common/session-refs.js'
import { listenOnLoopback } from './ports.js'

const DASHBOARD = new URL('../dashboard.html', import.meta.url)

/**
 * @param {{ demo: import('../demo.js').Demo, port: number }} options
 */
export async function startControlServer({ demo, port }) {
  const page = readFileSync(DASHBOARD, 'utf8')

  const server = createServer(async (req, res) => {
    try {
      await handle(req, res)
    } catch (err) {
      if (!res.headersSent) sendJson(res, 500, { error: err?.message ?? String(err) })
      else res.destroy()
    }
  })

  async function handle(req, res) {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const path = url.pathname
    if (req.method === 'POST' && !sameOrigin(req)) return sendJson(res, 403, { error: 'cross-origin request refused' })

    if (path === '/' || path === '/dashboard' || path === '/index.html') {
      if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { error: 'GET only' })
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
      return res.end(req.method === 'HEAD' ? undefined : page)
    }
    if (path === '/favicon.ico') {
      res.writeHead(204)
      return res.end()
    }
    if (path === '/api/nodes') {
      if (req.method === 'GET') return sendJson(res, 200, await demo.snapshot())
      if (req.method === 'POST') {
        const node = await demo.addNode()
        return sendJson(res, 202, { ok: true, route: node.route, httpPort: node.spec.port, clusterPort: node.spec.clusterPort })
      }
      return sendJson(res, 405, { error: 'GET or POST' })
    }
    const action = /^\/api\/nodes\/([A-Za-z0-9_-]{1,32})\/(kill|stop|restart)$/.exec(path)
    if (action) {
      if (req.method !== 'POST') return sendJson(res, 405, { error: 'POST only' })
      const [, route, verb] = action
      if (!demo.node(route)) return sendJson(res, 404, { error: `no node ${route}` })
      const result = await demo.act(route, verb)
      return sendJson(res, 200, { ok: true, route, action: verb, ...result })
    }
    if (path === '/api/cart') {
      if (req.method !== 'GET') return sendJson(res, 405, { error: 'GET only' })
      return cartThroughFront(req, res, url)
    }
    sendJson(res, 404, { error: 'not found' })
  }

  function cartThroughFront(req, res, url) {
    const add = url.searchParams.get('add')
    const path = add ? `/cart?add=${encodeURIComponent(add)}` : '/cart'
    const headers = {}
    if (req.headers.cookie) headers.cookie = req.headers.cookie
    return new Promise((resolve) => {
      const started = Date.now()
      const up = request({ host: '127.0.0.1', port: demo.front.port, path, headers, timeout: 15_000 }, (answer) => {
        const chunks = []
        answer.on('data', (c) => chunks.push(c))
        answer.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          let body
          try {
            body = JSON.parse(text)
          } catch {
            body = { error: text.slice(0, 200) }
          }
          const out = { 'content-type': 'application/json', 'cache-control': 'no-store' }
          if (answer.headers['set-cookie']) out['set-cookie'] = answer.headers['set-cookie']
          const record = {
            at: Date.now(),
            ms: Date.now() - started,
            status: answer.statusCode,
            node: body?.node ?? null,
            items: Array.isArray(body?.items) ? body.items : null,
            upstream: answer.headers['x-upstream'] ?? null,
            added: add ?? null,
          }
          demo.recordCartAnswer(record)
          res.writeHead(200, out)
          const sessionId = body?.sessionId ?? null
          res.end(JSON.stringify({ ...record, sessionId, sessionRef: sessionId ? sessionRef(sessionId) : null, error: body?.error ?? null }))
          resolve()
        })
      })
      up.on('timeout', () => up.destroy(new Error('the front did not answer within 15 s')))
      up.on('error', (err) => {
        demo.recordCartAnswer({ at: Date.now(), status: 0, node: null, items: null, error: err.message })
        sendJson(res, 502, { error: `front: ${err.message}` })
        resolve()
      })
      up.end()
    })
  }

  await listenOnLoopback(server, port)
  return {
    port,
    async stop() {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

/** A POST from another site (a page on the internet poking at localhost) carries a foreign Origin. */
function sameOrigin(req) {
  const origin = req.headers.origin
  if (!origin) return true
  try {
    return new URL(origin).host === req.headers.host
  } catch {
    return false
  }
}

function sendJson(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
  res.end(JSON.stringify(body))
}
