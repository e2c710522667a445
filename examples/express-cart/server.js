// One Express node of the cart example. Configuration and HTTP endpoints follow the example contract
// (root README, "Running a cluster by hand"): PORT, ROUTE, CLUSTER_HOST, CLUSTER_PORT, CLUSTER_MEMBERS, CLUSTER_SECRET,
// REPLICATION, MANAGER. Start three of them with different ports and routes and put nginx in front
// (examples/nginx): a user keeps the cart whichever node answers, and when a node dies.
import { createServer } from 'node:http'
import { fileURLToPath } from 'node:url'
import { clusterSession, consoleLogger, healthRoutes } from '@session-cluster/express'
import { registerClusterMetrics } from '@session-cluster/prometheus'
import express from 'express'
import { collectDefaultMetrics, Registry } from 'prom-client'
import { cartItems, isValidAttributeKey, renderCartPage, sessionAttributes } from '../common/cart-page.js'
import { configOrExit } from '../common/config.js'
import { sessionRefs } from '../common/session-refs.js'
import { closeHttpServer, exitOnSignals } from '../common/shutdown.js'

const config = configOrExit()
const { route } = config

const app = express()
app.disable('x-powered-by')

// Static files are mounted BEFORE the session middleware: they never load, touch or replicate a session
// (the middleware's static filter would skip .css/.svg anyway; this also covers any other /static/ path).
app.use('/static', express.static(fileURLToPath(new URL('../common/static/', import.meta.url)), { fallthrough: false }))

const sessions = clusterSession({
  secret: config.cookieSecret,
  name: 'sid', // no dot: nginx can read it as $cookie_sid
  cookie: { secure: false, httpOnly: true, sameSite: 'lax' }, // the example runs over plain HTTP
  // The library logs nothing unless given a logger: this one writes a line per cluster event to stderr.
  cluster: { ...config.cluster, logger: consoleLogger() },
  rebind: config.rebind,
})
const cluster = sessions.cluster

// Health and cluster view, outside the session: 503 until state transfer is done, so nginx and the
// tests know when this node has every session.
app.get('/cluster/status', (_req, res) => {
  const status = cluster.status()
  res.status(status.ready ? 200 : 503).json(status)
})
// Where sessions live (short hashes, never ids): the demo dashboard's sessions panel.
app.get('/cluster/sessions', (_req, res) => res.json({ route, sessions: sessionRefs(cluster) }))
const health = healthRoutes(cluster)
app.get('/health/ready', health.ready)
app.get('/health/live', health.live)

// Prometheus: the application's own registry (process metrics and the cluster's session_cluster_* families).
const registry = new Registry()
collectDefaultMetrics({ register: registry })
registerClusterMetrics(cluster, { registry })
app.get('/metrics', async (_req, res) => {
  res.type(registry.contentType).send(await registry.metrics())
})

// Until this node holds the cluster's sessions it must not answer for them (it would hand out empty carts);
// nginx's `proxy_next_upstream http_503` sends the request to another node instead.
app.use((_req, res, next) => {
  if (cluster.ready) return next()
  res.status(503).set('Retry-After', '1').json({ error: 'starting: state transfer in progress' })
})

app.use(sessions)
app.use(express.urlencoded({ extended: false, limit: '4kb' }))

// GET /cart?add=NAME pushes NAME in place; GET /cart reads.
app.get('/cart', (req, res) => {
  const items = cartItems(req.session)
  if (typeof req.query.add === 'string') items.push(req.query.add)
  res.json({ node: route, sessionId: req.sessionID, items })
})

// GET /attr?key=K&value=V sets attribute K; GET /attr?key=K reads. Answers every attribute but the cookie.
app.get('/attr', (req, res) => {
  const { key, value } = req.query
  if (!isValidAttributeKey(key)) return res.status(400).json({ error: 'key must match [A-Za-z0-9_-]{1,64} and not name a session member' })
  if (typeof value === 'string') req.session[key] = value
  res.json({ node: route, sessionId: req.sessionID, attrs: sessionAttributes(req.session) })
})

// The HTML cart page; GET /?add=NAME adds too, the page's form POSTs and is redirected back (no re-add on reload).
app.get('/', (req, res) => {
  const items = cartItems(req.session)
  if (typeof req.query.add === 'string' && req.query.add !== '') items.push(req.query.add)
  const meta = cluster.meta(req.sessionID) // undefined until the first save: a new session
  const now = Date.now()
  res.type('html').send(
    renderCartPage({
      node: route,
      sessionId: req.sessionID,
      isNew: meta === undefined,
      createdAt: meta?.createdAt ?? now,
      lastAccessedAt: meta?.lastAccessedAt ?? now,
      items,
      members: cluster.status().members,
    }),
  )
})

app.post('/', (req, res) => {
  const name = typeof req.body?.add === 'string' ? req.body.add.trim() : ''
  if (name) cartItems(req.session).push(name)
  res.redirect(303, '/')
})

const server = createServer(app)
server.on('error', (err) => {
  console.error(`[${route}] HTTP server error: ${err.message}`)
  process.exit(1)
})
server.listen(config.port, config.host, () => {
  const port = server.address()?.port ?? config.port
  sessions.ready.then(
    () => {
      if (!stopping()) console.log(`listening on http://${config.host}:${port} route=${route}`)
    },
    (err) => {
      if (stopping()) return // a SIGTERM during state transfer: shutdown() exits 0
      console.error(`[${route}] cluster failed to start: ${err?.message ?? err}`)
      process.exit(1)
    },
  )
})

// SIGTERM: stop accepting, let in-flight requests finish (their replication included), then flush and
// leave the cluster so peers drop this member at once instead of suspecting it. Exit 0 within 5 s.
const stopping = exitOnSignals(route, async () => {
  health.close()
  await closeHttpServer(server)
  try {
    await sessions.close()
  } catch (err) {
    console.error(`[${route}] leaving the cluster failed: ${err?.message ?? err}`)
  }
})
