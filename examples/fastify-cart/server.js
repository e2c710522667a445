// One Fastify node of the cart example: the same contract as examples/express-cart (root README, "Running a cluster by hand"),
// on Fastify and the @session-cluster/fastify plugin.
import { readFile } from 'node:fs/promises'
import { clusterSession, healthRoutes } from '@session-cluster/fastify'
import { registerClusterMetrics } from '@session-cluster/prometheus'
import Fastify, { LogController } from 'fastify'
import { collectDefaultMetrics, Registry } from 'prom-client'
import { cartItems, isValidAttributeKey, renderCartPage, sessionAttributes } from '../common/cart-page.js'
import { configOrExit } from '../common/config.js'
import { sessionRefs } from '../common/session-refs.js'
import { exitOnSignals } from '../common/shutdown.js'

const config = configOrExit()
const { route } = config

const STATIC_FILES = {
  'style.css': { path: new URL('../common/static/style.css', import.meta.url), type: 'text/css; charset=utf-8' },
  'logo.svg': { path: new URL('../common/static/logo.svg', import.meta.url), type: 'image/svg+xml' },
}

// Fastify's own pino logger, which the session plugin logs cluster events to (a JSON line each); request logging
// is off to keep the output to what the cluster does.
const app = Fastify({ logger: { level: 'info' }, logController: new LogController({ disableRequestLogging: true }) })
const registry = new Registry()
collectDefaultMetrics({ register: registry })

// Routes without a session: a sibling plugin registered (and awaited) BEFORE the session plugin, so its
// context never gets the session hooks. The static files would also be skipped by the plugin's static
// filter (.css/.svg); this keeps every /static/ path and the health check out of the session.
await app.register(async function withoutSession(scope) {
  scope.get('/static/:file', async (request, reply) => {
    const file = Object.hasOwn(STATIC_FILES, request.params.file) ? STATIC_FILES[request.params.file] : undefined
    if (!file) return reply.code(404).send({ error: 'not found' })
    return reply.type(file.type).header('cache-control', 'public, max-age=300').send(await readFile(file.path))
  })
  // 503 until state transfer is done, so nginx and the tests know when this node has every session.
  scope.get('/cluster/status', async (_request, reply) => {
    const status = app.cluster.status()
    return reply.code(status.ready ? 200 : 503).send(status)
  })
  // Where sessions live (short hashes, never ids): the demo dashboard's sessions panel.
  scope.get('/cluster/sessions', async () => ({ route, sessions: sessionRefs(app.cluster) }))
  // GET /health/ready, GET /health/live (app.cluster is looked up per request: it is decorated just below).
  await scope.register(healthRoutes)
  // Prometheus: the application's own registry (process metrics and the cluster's session_cluster_* families).
  scope.get('/metrics', async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()))
})

// Until this node holds the cluster's sessions it must not answer for them (it would hand out empty carts);
// nginx's `proxy_next_upstream http_503` sends the request to another node instead. Added before the
// session plugin so it runs first and no session is loaded or created for a refused request.
app.addHook('onRequest', async (_request, reply) => {
  if (!app.cluster?.ready) return reply.code(503).header('retry-after', '1').send({ error: 'starting: state transfer in progress' })
})

await app.register(clusterSession, {
  secret: config.cookieSecret,
  name: 'sid', // no dot: nginx can read it as $cookie_sid
  cookie: { secure: false, httpOnly: true, sameSite: 'lax', path: '/' }, // the example runs over plain HTTP
  cluster: config.cluster,
  rebind: config.rebind,
})
registerClusterMetrics(app.cluster, { registry })

// The page's add form posts application/x-www-form-urlencoded (no @fastify/formbody needed for one field).
app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_request, body, done) => {
  done(null, Object.fromEntries(new URLSearchParams(body)))
})

// GET /cart?add=NAME pushes NAME in place; GET /cart reads.
app.get('/cart', async (request) => {
  const items = cartItems(request.session)
  if (typeof request.query.add === 'string') items.push(request.query.add)
  return { node: route, sessionId: request.session.sessionId, items }
})

// GET /attr?key=K&value=V sets attribute K; GET /attr?key=K reads. Answers every attribute but the cookie.
app.get('/attr', async (request, reply) => {
  const { key, value } = request.query
  if (!isValidAttributeKey(key)) return reply.code(400).send({ error: 'key must match [A-Za-z0-9_-]{1,64} and not name a session member' })
  if (typeof value === 'string') request.session[key] = value
  return { node: route, sessionId: request.session.sessionId, attrs: sessionAttributes(request.session) }
})

// The HTML cart page; GET /?add=NAME adds too, the page's form POSTs and is redirected back (no re-add on reload).
app.get('/', async (request, reply) => {
  const items = cartItems(request.session)
  if (typeof request.query.add === 'string' && request.query.add !== '') items.push(request.query.add)
  const sessionId = request.session.sessionId
  const meta = app.cluster.meta(sessionId) // undefined until the first save: a new session
  const now = Date.now()
  return reply.type('text/html; charset=utf-8').send(
    renderCartPage({
      node: route,
      sessionId,
      isNew: meta === undefined,
      createdAt: meta?.createdAt ?? now,
      lastAccessedAt: meta?.lastAccessedAt ?? now,
      items,
      members: app.cluster.status().members,
    }),
  )
})

app.post('/', async (request, reply) => {
  const name = typeof request.body?.add === 'string' ? request.body.add.trim() : ''
  if (name) cartItems(request.session).push(name)
  return reply.redirect('/', 303)
})

// SIGTERM: stop accepting, let in-flight requests finish (their replication included), then flush and
// leave the cluster (the plugin's onClose; stop() again is a no-op) so peers drop this member at once.
// Exit 0 within 5 s.
const stopping = exitOnSignals(route, async () => {
  // Keep-alive connections from nginx that stay busy past 3 s are cut, so close() cannot hang.
  setTimeout(() => app.server.closeAllConnections(), 3_000).unref()
  try {
    await app.close()
    await app.cluster.stop()
  } catch (err) {
    console.error(`[${route}] shutdown error: ${err?.message ?? err}`)
  }
})

try {
  await app.listen({ port: config.port, host: config.host })
  await app.cluster.whenReady()
  if (!stopping()) console.log(`listening on http://${config.host}:${app.server.address().port} route=${route}`)
} catch (err) {
  // A SIGTERM during startup stops the cluster, which ends the wait above: shutdown() exits 0.
  if (!stopping()) {
    console.error(`[${route}] failed to start: ${err?.message ?? err}`)
    process.exit(1)
  }
}
