// The side-by-side stacks without nginx in the request path: wrk straight at node1 (`node1`), or at every node at
// once (`spread`), and each node's CPU per request (user/system, and context switches: voluntary ones are sleeps
// and wake-ups). Separates what a store costs in the node that serves a request, what its peers spend on it, and
// what the balancer adds. Fastify; run after `pnpm build`.
//   WORKLOAD=read-only|read|write node bench/side-by-side/direct.mjs <unshared|memory|sync-1|sync|...> [connections per target=4] [node1|spread]
import { runWrk } from './lib/load.mjs'
import { cleanup, findTool } from './lib/procs.mjs'
import { startStack } from './lib/stack.mjs'
import { perRequest, snapshot } from './lib/usage-report.mjs'

const store = process.argv[2]
const conns = Number(process.argv[3] ?? 4)
const spread = process.argv[4] === 'spread'
const workload = process.env.WORKLOAD ?? 'read-only'
const tools = { nginx: findTool('nginx', ['/usr/sbin/nginx']), wrk: findTool('wrk'), redis: findTool('redis-server', ['/usr/bin/redis-server']) }
if (!tools.nginx || !tools.wrk) throw new Error('needs nginx and wrk (apt-get install -y nginx wrk)')
const stack = await startStack({ framework: 'fastify', store, tools, connections: 50 })
try {
  const targets = spread ? stack.nodes : [stack.nodes[0]]
  const load = (seconds) => Promise.all(targets.map((n) => runWrk({ wrk: tools.wrk, url: n.url, workload, seconds, connections: conns, cap: 20 })))
  await load(3)
  const nodes = stack.nodes.map((n) => ({ role: n.route, pid: n.proc.pid }))
  const before = snapshot(nodes)
  const runs = await load(8)
  const requests = runs.reduce((a, x) => a + x.requests, 0)
  const lines = perRequest(before, snapshot(nodes), requests)
  console.log(`${store} ${workload} ${conns} conns ${spread ? 'spread' : 'node1'}: ${Math.round(requests / 8)} req/s; per request: ${lines.join(', ')}`)
} finally {
  await stack.stop()
  await cleanup()
}
process.exit(0)
