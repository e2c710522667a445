// Async replication with and without the version token, for one user's sequential requests behind nginx
// round-robin: 3 nodes (the examples, REPLICATION=async), one client adding items to its cart one request at a
// time. With the token (the `sid.v` cookie sent back) no answer may miss the client's previous item; without it
// (the client drops that cookie) answers from a node the change has not reached yet are stale. Reports stale
// answers, items lost at the end, and latency p50/p99 of each, side by side in one run, alternating the two
// clients in rounds so the machine's noise hits both alike.
//
//   pnpm build && node bench/async-tokens/run.mjs [--framework express|fastify] [--adds 1000] [--rounds 4]
import { Agent, request } from 'node:http'
import { cleanup, findTool } from '../side-by-side/lib/procs.mjs'
import { startStack } from '../side-by-side/lib/stack.mjs'

const args = Object.fromEntries(
  process.argv.slice(2).map((a, i, all) => (a.startsWith('--') ? [a.slice(2), all[i + 1]] : [])).filter((e) => e.length === 2),
)
const FRAMEWORK = args.framework ?? 'express'
const ADDS = Number(args.adds ?? 1000)
const ROUNDS = Number(args.rounds ?? 4)
const tools = { nginx: findTool('nginx', ['/usr/sbin/nginx']) }
if (!tools.nginx) {
  console.error('needs nginx: apt-get install -y nginx')
  process.exit(2)
}

/** GET with a cookie jar (name → value); resolves status, latency and body. */
function get(agent, url, jar) {
  return new Promise((resolve) => {
    const started = performance.now()
    const headers = {}
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ')
    if (cookie) headers.cookie = cookie
    const req = request(url, { agent, headers }, (res) => {
      for (const line of res.headers['set-cookie'] ?? []) {
        const [pair] = line.split(';')
        const at = pair.indexOf('=')
        jar.set(pair.slice(0, at), pair.slice(at + 1))
      }
      let body = ''
      res.on('data', (c) => (body += c))
      res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - started, body }))
    })
    req.on('error', () => resolve({ status: 0, ms: performance.now() - started, body: '' }))
    req.end()
  })
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]

/** One client's run of ADDS sequential adds; `keepToken` false drops the token cookie before every request. */
async function client(url, keepToken, prefix) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  const jar = new Map()
  const latencies = []
  let stale = 0
  let failed = 0
  for (let i = 0; i < ADDS; i++) {
    if (!keepToken) jar.delete('sid.v')
    const res = await get(agent, `${url}/cart?add=${prefix}${i}`, jar)
    latencies.push(res.ms)
    if (res.status !== 200) {
      failed++
      continue
    }
    const items = JSON.parse(res.body).items
    if (i > 0 && !items.includes(`${prefix}${i - 1}`)) stale++
  }
  await new Promise((r) => setTimeout(r, 1_000)) // replication settles
  const final = JSON.parse((await get(agent, `${url}/cart`, jar)).body || '{"items":[]}').items
  const lost = Array.from({ length: ADDS }, (_, i) => `${prefix}${i}`).filter((item) => !final.includes(item)).length
  agent.destroy()
  return { latencies, stale, failed, lost }
}

process.on('SIGINT', async () => {
  await cleanup()
  process.exit(130)
})

const stack = await startStack({ framework: FRAMEWORK, store: 'async', tools, connections: 4 })
const totals = { token: { latencies: [], stale: 0, failed: 0, lost: 0 }, plain: { latencies: [], stale: 0, failed: 0, lost: 0 } }
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const kind of round % 2 === 0 ? ['token', 'plain'] : ['plain', 'token']) {
      const r = await client(stack.url, kind === 'token', `${kind}${round}-`)
      const t = totals[kind]
      t.latencies.push(...r.latencies)
      t.stale += r.stale
      t.failed += r.failed
      t.lost += r.lost
    }
  }
  // How the nodes met the tokens: already covered, caught up by waiting, or fetched.
  for (const node of stack.nodes) {
    const status = JSON.parse((await get(new Agent(), `${node.url}/cluster/status`, new Map())).body)
    const counters = Object.fromEntries(Object.entries(status.counters).filter(([k]) => k.startsWith('tokens.')))
    console.log(`${node.route}: ${JSON.stringify(counters)}`)
  }
} finally {
  await stack.stop()
}
const rows = Object.entries(totals).map(([kind, t]) => {
  const sorted = t.latencies.sort((a, b) => a - b)
  return { kind, requests: sorted.length, stale: t.stale, lost: t.lost, failed: t.failed, p50: percentile(sorted, 50), p99: percentile(sorted, 99) }
})
console.log(`${FRAMEWORK}, 3 nodes async behind nginx round-robin, ${ROUNDS} rounds x ${ADDS} sequential adds per client`)
for (const r of rows) {
  console.log(
    `${r.kind === 'token' ? 'with token   ' : 'without token'} ${r.requests} requests, ${r.stale} stale answers, ${r.lost} items lost, ${r.failed} failed, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms`,
  )
}
console.log(`p50 with / without the token: ${(rows[0].p50 / rows[1].p50).toFixed(2)}x`)
