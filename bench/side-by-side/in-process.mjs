// Where a request's CPU goes without nginx, sockets on the HTTP side or other processes: Fastify requests injected
// (light-my-request) one at a time into one process, read-mostly (1 add in 10) over 50 sessions, with
// @fastify/session's MemoryStore, the cluster plugin on one node, or the cluster plugin on three nodes in this same
// process over loopback TCP (every node's work counted: the peers applying and acknowledging). CPU per request is
// the process's. Run by hand after `pnpm build`; add `node --cpu-prof --cpu-prof-dir=DIR` to see where it goes.
// ADD_EVERY=n: one request in n adds (default 10; 1 = every request writes). Carts restart after 20 items, so
// sessions stay the size the harness's are.
//   node bench/side-by-side/in-process.mjs <memory|cluster1|cluster3> [requests=20000]
import { createServer } from 'node:net'
import Fastify from 'fastify'
import fastifyCookie from '@fastify/cookie'
import fastifySession from '@fastify/session'
import { clusterSession } from '@session-cluster/fastify'
const kind = process.argv[2]; const N = Number(process.argv[3] ?? 20000); const ADD_EVERY = Number(process.env.ADD_EVERY ?? 10)
const secret = 'a-secret-with-at-least-32-characters-ok'
async function freePort() { const s = createServer(); await new Promise((r) => s.listen(0, '127.0.0.1', r)); const { port } = s.address(); await new Promise((r) => s.close(r)); return port }
async function app(opts) {
  const a = Fastify({ logger: false })
  if (opts.cluster) await a.register(clusterSession, { secret, name: 'sid', cookie: { secure: false, path: '/' }, cluster: opts.cluster })
  else { await a.register(fastifyCookie); await a.register(fastifySession, { secret, cookieName: 'sid', cookie: { secure: false, path: '/' }, saveUninitialized: false, rolling: true }) }
  a.get('/cart', async (req) => { const items = (req.session.items ??= []); if (req.query.add) { if (items.length >= 20) items.length = 0; items.push(req.query.add) } return { items } })
  await a.ready(); return a
}
let apps
if (kind === 'memory') apps = [await app({})]
else {
  const n = kind === 'cluster1' ? 1 : 3
  const ports = await Promise.all(Array.from({ length: n }, freePort))
  const members = ports.map((p) => `127.0.0.1:${p}`)
  apps = await Promise.all(ports.map((port, i) => app({ cluster: { route: `n${i + 1}`, host: '127.0.0.1', port, members, replication: 'sync' } })))
  await Promise.all(apps.map((a) => a.cluster.whenReady?.() ?? a.cluster.start()))
  await new Promise((r) => setTimeout(r, 1500))
}
const target = apps[0]
const cookies = []
for (let s = 0; s < 50; s++) { const r = await target.inject({ url: '/cart?add=x' }); cookies.push(r.headers['set-cookie'].split(';')[0]) }
async function run(count) { for (let i = 0; i < count; i++) { const c = cookies[i % 50]; const add = i % ADD_EVERY === 0; await target.inject({ url: add ? '/cart?add=y' : '/cart', headers: { cookie: c } }) } }
await run(3000)
const t0 = process.cpuUsage(); const w0 = performance.now()
await run(N)
const cpu = process.cpuUsage(t0); const wall = performance.now() - w0
console.log(kind, 'CPU us/req', ((cpu.user + cpu.system) / N).toFixed(1), 'wall us/req', (1000 * wall / N).toFixed(1))
for (const a of apps) await a.close()
process.exit(0)
