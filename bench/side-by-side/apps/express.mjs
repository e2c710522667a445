// The comparison app for Express: express + express-session with its MemoryStore (STORE=memory, one
// process), connect-redis (STORE=redis, REDIS_URL, any number of processes) or session-cluster (STORE=cluster,
// the example contract's cluster variables: clusterSession(), nothing else of the example's extras such as its
// metrics and health routes, so every store runs in the same app). It implements only what the
// side-by-side workloads use of the example contract, exactly as examples/express-cart does it:
//   GET /cart?add=NAME  pushes NAME onto req.session.items in place; GET /cart reads;
//   both answer {"node","sessionId","items"}; GET /cluster/status answers 200 once the store is connected.
// Same cookie name (sid), cookie options, secret derivation (examples/common/config.js) and express-session
// options as @session-cluster/express's clusterSession() defaults (resave, saveUninitialized and rolling off),
// so the only difference from the example is the store.
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import express from 'express'
import session from 'express-session'
import { cartItems } from '../../../examples/common/cart-page.js'
import { configOrExit } from '../../../examples/common/config.js'
import { closeHttpServer, exitOnSignals } from '../../../examples/common/shutdown.js'

const config = configOrExit()
const { route } = config
const storeKind = process.env.STORE || 'memory'
// ROUTED_IDS=1: ids end in this node's route, as the cluster's do, so nginx's sticky config pins each user to the
// node that holds its session (the unshared floor configuration).
const routedId = process.env.ROUTED_IDS === '1' ? () => `${randomBytes(24).toString('base64url')}.${route}` : undefined

let redis
let store // undefined: express-session's MemoryStore
if (storeKind === 'redis') {
  if (!process.env.REDIS_URL) throw new Error('STORE=redis needs REDIS_URL')
  // Loaded only here, so the MemoryStore process does not carry the redis client in its RSS.
  const { createClient } = await import('redis')
  const { RedisStore } = await import('connect-redis')
  redis = createClient({ url: process.env.REDIS_URL })
  redis.on('error', (err) => console.error(`[${route}] redis: ${err.message}`))
  await redis.connect()
  store = new RedisStore({ client: redis, prefix: 'sess:' }) // connect-redis's defaults otherwise (ttl from the cookie, touch on)
} else if (storeKind !== 'memory' && storeKind !== 'cluster') {
  throw new Error(`STORE must be memory, redis or cluster, got "${storeKind}"`)
}
const options = {
  secret: config.cookieSecret,
  name: 'sid',
  ...(routedId ? { genid: routedId } : {}),
  resave: false,
  saveUninitialized: false,
  rolling: false,
  cookie: { secure: false, httpOnly: true, sameSite: 'lax' },
}
let sessions
if (storeKind === 'cluster') {
  const { clusterSession } = await import('@session-cluster/express')
  sessions = clusterSession({ ...options, cluster: config.cluster, rebind: config.rebind })
} else {
  sessions = session({ ...options, store })
}

const app = express()
app.disable('x-powered-by')

// Health, outside the session (as in the example): the harness waits for 200 before sending load.
// For the cluster: its status (the harness waits for every member), 503 until state transfer is done.
app.get('/cluster/status', (_req, res) => {
  if (!sessions.cluster) return res.json({ route, ready: true, store: storeKind })
  const status = sessions.cluster.status()
  res.status(status.ready ? 200 : 503).json(status)
})

app.use(sessions)

app.get('/cart', (req, res) => {
  const items = cartItems(req.session)
  if (typeof req.query.add === 'string') items.push(req.query.add)
  res.json({ node: route, sessionId: req.sessionID, items })
})

const server = createServer(app)
server.on('error', (err) => {
  console.error(`[${route}] HTTP server error: ${err.message}`)
  process.exit(1)
})
server.listen(config.port, config.host, () => {
  console.log(`listening on http://${config.host}:${server.address().port} route=${route} store=${storeKind}`)
})

exitOnSignals(route, async () => {
  await closeHttpServer(server)
  await sessions.close?.()
  await redis?.quit().catch(() => {})
})
