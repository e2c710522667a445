// The comparison app for Fastify: fastify + @fastify/cookie + @fastify/session with its MemoryStore
// (STORE=memory, one process), connect-redis (STORE=redis, REDIS_URL, any number of processes) or session-cluster
// (STORE=cluster, the example contract's cluster variables: the clusterSession plugin, nothing else of the example's
// extras such as its metrics and health routes, so every store runs in the same app). Only what
// the side-by-side workloads use of the example contract, as examples/fastify-cart does it:
//   GET /cart?add=NAME pushes NAME onto request.session.items in place; GET /cart reads;
//   both answer {"node","sessionId","items"}; GET /cluster/status answers 200 once the store is connected.
// Same cookie name (sid), cookie options, secret derivation (examples/common/config.js) and @fastify/session
// options as @session-cluster/fastify's plugin defaults (saveUninitialized off, rolling on: @fastify/session
// then saves the session on every request, which for connect-redis is a SET per read; the cluster store
// replicates nothing for an unchanged session).
import { randomBytes } from 'node:crypto'
import fastifyCookie from '@fastify/cookie'
import fastifySession from '@fastify/session'
import Fastify from 'fastify'
import { cartItems } from '../../../examples/common/cart-page.js'
import { configOrExit } from '../../../examples/common/config.js'
import { exitOnSignals } from '../../../examples/common/shutdown.js'

const config = configOrExit()
const { route } = config
const storeKind = process.env.STORE || 'memory'
// ROUTED_IDS=1: ids end in this node's route, as the cluster's do, so nginx's sticky config pins each user to the
// node that holds its session (the unshared floor configuration).
const routedId = process.env.ROUTED_IDS === '1' ? () => `${randomBytes(24).toString('base64url')}.${route}` : undefined

let redis
let store // undefined: @fastify/session's MemoryStore
if (storeKind === 'redis') {
  if (!process.env.REDIS_URL) throw new Error('STORE=redis needs REDIS_URL')
  // Loaded only here, so the MemoryStore process does not carry the redis client in its RSS.
  const { createClient } = await import('redis')
  const { RedisStore } = await import('connect-redis')
  redis = createClient({ url: process.env.REDIS_URL })
  redis.on('error', (err) => console.error(`[${route}] redis: ${err.message}`))
  await redis.connect()
  store = new RedisStore({ client: redis, prefix: 'sess:' })
} else if (storeKind === 'json') {
  // The least any store outside @fastify/session's MemoryStore costs the framework (a yardstick, not a store).
  const sessions = new Map()
  store = {
    get: (id, done) => done(null, sessions.has(id) ? JSON.parse(sessions.get(id)) : null),
    set: (id, session, done) => done(null, sessions.set(id, JSON.stringify(session)) && undefined),
    destroy: (id, done) => done(null, sessions.delete(id) && undefined),
  }
} else if (storeKind === 'cluster-store') {
  // session-cluster's ClusterStore under @fastify/session, without the plugin's hooks (a yardstick of their cost).
  const { clusterStore } = await import('@session-cluster/fastify')
  store = clusterStore(config.cluster)
  await store.ready
} else if (storeKind !== 'memory' && storeKind !== 'cluster') {
  throw new Error(`STORE must be memory, redis, cluster, json or cluster-store, got "${storeKind}"`)
}

const app = Fastify({ logger: false })

// Health, without a session (as in the example): a sibling context registered before the session plugin,
// so @fastify/session's hooks never run for it.
// For the cluster: its status (the harness waits for every member), 503 until state transfer is done.
await app.register(async function withoutSession(scope) {
  scope.get('/cluster/status', async (_request, reply) => {
    const cluster = app.cluster ?? store?.cluster
    if (!cluster) return { route, ready: true, store: storeKind }
    const status = cluster.status()
    return reply.code(status.ready ? 200 : 503).send(status)
  })
})

if (storeKind === 'cluster') {
  const { clusterSession } = await import('@session-cluster/fastify')
  await app.register(clusterSession, {
    secret: config.cookieSecret,
    name: 'sid',
    cookie: { secure: false, httpOnly: true, sameSite: 'lax', path: '/' },
    cluster: config.cluster,
    rebind: config.rebind,
  })
} else {
  await app.register(fastifyCookie)
  await app.register(fastifySession, {
    secret: config.cookieSecret,
    cookieName: 'sid',
    cookie: { secure: false, httpOnly: true, sameSite: 'lax', path: '/' },
    saveUninitialized: false,
    rolling: true,
    ...(store ? { store } : {}),
    ...(routedId ? { idGenerator: routedId } : {}),
  })
}

app.get('/cart', async (request) => {
  const items = cartItems(request.session)
  if (typeof request.query.add === 'string') items.push(request.query.add)
  return { node: route, sessionId: request.session.sessionId, items }
})

const stopping = exitOnSignals(route, async () => {
  setTimeout(() => app.server.closeAllConnections(), 3_000).unref()
  await app.close().catch(() => {})
  await redis?.quit().catch(() => {})
})

try {
  await app.listen({ port: config.port, host: config.host })
  console.log(`listening on http://${config.host}:${app.server.address().port} route=${route} store=${storeKind}`)
} catch (err) {
  if (!stopping()) {
    console.error(`[${route}] failed to start: ${err?.message ?? err}`)
    process.exit(1)
  }
}
