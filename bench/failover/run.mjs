// Failover under load: 3 nodes behind nginx round-robin, 20 clients each adding 50 items to their own cart,
// one request at a time; after 200 answers one node is SIGKILLed and started again at once. Reports every
// request's latency (p50, p99, max), failed requests and items missing from the carts at the end, next to the
// same run without the kill, for session-cluster sync and for connect-redis.
//
// With `--nginx sticky` (the examples' sticky config) it also counts, of the clients whose session was bound to
// the killed node, how many got a cookie naming a live node on their first response from a survivor after the
// kill (route rebinding, Tomcat's JvmRouteBinderValve); the victim is restarted once they all had one.
//
//   pnpm build && node bench/failover/run.mjs [--stores sync,redis] [--nginx round-robin|sticky] [--rebind failover|always] [--clients 20] [--adds 50]
import { request } from 'node:http'
import { Agent } from 'node:http'
import { cleanup, findTool } from '../side-by-side/lib/procs.mjs'
import { startStack } from '../side-by-side/lib/stack.mjs'

const args = Object.fromEntries(
  process.argv.slice(2).map((a, i, all) => (a.startsWith('--') ? [a.slice(2), all[i + 1]] : [])).filter((e) => e.length === 2),
)
const STORES = (args.stores ?? 'sync,redis').split(',')
const CLIENTS = Number(args.clients ?? 20)
const ADDS = Number(args.adds ?? 50)
const KILL_AFTER = 200
const NGINX = args.nginx ?? 'round-robin'
// The example apps' REBIND (failover, always or off): the nodes inherit this process's environment.
if (args.rebind) process.env.REBIND = args.rebind

/** The route in a session cookie `sid=s%3A<id>.<route>.<signature>` (express-session's form). */
const routeOf = (cookie) => /^sid=s%3A[^.]+\.([A-Za-z0-9_-]+)\./.exec(cookie ?? '')?.[1]

const tools = { nginx: findTool('nginx', ['/usr/sbin/nginx']), redis: findTool('redis-server', ['/usr/bin/redis-server']) }
if (!tools.nginx || !tools.redis) {
  console.error('needs nginx and redis-server: apt-get install -y nginx redis-server')
  process.exit(1)
}

/** One GET with this client's cookie; resolves { status, ms, body }. */
function get(agent, url, jar) {
  const started = performance.now()
  return new Promise((resolve) => {
    const req = request(url, { agent, headers: jar.cookie ? { cookie: jar.cookie } : {} }, (res) => {
      const set = res.headers['set-cookie']?.find((c) => c.startsWith('sid='))
      if (set) jar.cookie = set.split(';')[0]
      let body = ''
      res.on('data', (c) => (body += c))
      res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - started, body }))
    })
    req.setTimeout(30_000, () => req.destroy(new Error('timeout')))
    req.on('error', () => resolve({ status: 0, ms: performance.now() - started, body: '' }))
    req.end()
  })
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]

async function scenario(store, kill) {
  const stack = await startStack({ framework: 'express', store, tools, connections: CLIENTS, nginxMode: NGINX })
  try {
    const latencies = []
    let answered = 0
    let failed = 0
    let killed
    const victim = stack.nodes[1]
    /** Clients bound to the victim when it was killed → whether their first answer after it carried a live route. */
    const bound = new Map()
    const pending = new Set()
    let restartVictim
    const clients = Array.from({ length: CLIENTS }, (_, c) => ({ c, jar: {}, agent: new Agent({ keepAlive: true, maxSockets: 1 }) }))
    await Promise.all(
      clients.map(async ({ c, jar, agent }) => {
        for (let i = 0; i < ADDS; i++) {
          const res = await get(agent, `${stack.url}/cart?add=c${c}-${i}`, jar)
          // The first answer this client received from a survivor after the kill (an answer the victim itself
          // sent before it died is not one: that client's next request meets the dead node).
          const servedBy = JSON.parse(res.body || '{}').node
          if (pending.has(c) && servedBy !== victim.route) {
            pending.delete(c)
            bound.set(c, routeOf(jar.cookie) !== victim.route)
            if (pending.size === 0) restartVictim?.()
          }
          latencies.push(res.ms)
          if (res.status !== 200) failed++
          if (++answered === KILL_AFTER && kill) {
            for (const other of clients) if (routeOf(other.jar.cookie) === victim.route) pending.add(other.c)
            victim.proc.child.kill('SIGKILL')
            // Behind sticky nginx the victim comes back only once its clients were answered by a survivor: a
            // restarted, ready victim rightly keeps its route, which would hide whether the survivors rebound.
            const restarted = new Promise((resolve) => (restartVictim = resolve))
            if (NGINX !== 'sticky' || pending.size === 0) restartVictim()
            killed = Promise.all([victim.proc.exited, restarted]).then(() => victim.restart())
          }
        }
      }),
    )
    await killed
    let lost = 0
    for (const { c, jar, agent } of clients) {
      const res = await get(agent, `${stack.url}/cart`, jar)
      const items = new Set(JSON.parse(res.body || '{"items":[]}').items)
      for (let i = 0; i < ADDS; i++) if (!items.has(`c${c}-${i}`)) lost++
      agent.destroy()
    }
    latencies.sort((a, b) => a - b)
    return {
      store,
      kill,
      requests: latencies.length,
      failed,
      lost,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: latencies.at(-1),
      over1s: latencies.filter((ms) => ms > 1_000).length,
      boundToVictim: bound.size,
      reboundAtOnce: [...bound.values()].filter(Boolean).length,
    }
  } finally {
    await stack.stop()
  }
}

process.on('SIGINT', async () => {
  await cleanup()
  process.exit(130)
})

const rows = []
for (const store of STORES) {
  for (const kill of [false, true]) {
    const row = await scenario(store, kill)
    rows.push(row)
    console.log(
      `${store.padEnd(6)} ${kill ? 'SIGKILL + restart' : 'no kill         '}  ${row.requests} requests, ${row.failed} failed, ${row.lost} items lost, ` +
        `p50 ${row.p50.toFixed(1)} ms, p99 ${row.p99.toFixed(1)} ms, max ${row.max.toFixed(1)} ms, ${row.over1s} over 1 s` +
        (kill && store !== 'redis' ? `; ${row.reboundAtOnce} of ${row.boundToVictim} clients on the killed node rebound on their first answer from a survivor (rebind ${process.env.REBIND ?? 'failover'})` : ''),
    )
  }
}
for (const store of STORES) {
  const [calm, killed] = rows.filter((r) => r.store === store)
  console.log(`${store}: p99 with the kill / without: ${(killed.p99 / calm.p99).toFixed(2)}x`)
}
await cleanup()
