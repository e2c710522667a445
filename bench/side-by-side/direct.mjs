// The side-by-side stacks without nginx in the request path: wrk's read-only workload straight at node1 (`node1`),
// or at every node at once (`spread`), and each node's CPU per request. Separates what a store costs in the node
// that serves a request, what its peers spend on it, and what the balancer adds. Fastify; run after `pnpm build`.
//   node bench/side-by-side/direct.mjs <unshared|sync-1|sync|...> [connections per target=4] [node1|spread]
import { runWrk } from './lib/load.mjs'
import { cleanup, cpuMicros, findTool } from './lib/procs.mjs'
import { startStack } from './lib/stack.mjs'
const store = process.argv[2]; const conns = Number(process.argv[3] ?? 4)
const tools = { nginx: findTool('nginx', ['/usr/sbin/nginx']), wrk: findTool('wrk'), redis: findTool('redis-server', ['/usr/bin/redis-server']) }
if (!tools.nginx || !tools.wrk) throw new Error('needs nginx and wrk (apt-get install -y nginx wrk)')
const stack = await startStack({ framework: 'fastify', store, tools, connections: 50 })
try {
  await runWrk({ wrk: tools.wrk, url: stack.nodes[0].url, workload: 'read-only', seconds: 3, connections: conns, cap: 20 })
  const pids = stack.nodes.map((n) => n.proc.pid)
  const before = pids.map(cpuMicros)
  const spread = process.argv[4] === 'spread'
  const runs = await Promise.all((spread ? stack.nodes : [stack.nodes[0]]).map((n) => runWrk({ wrk: tools.wrk, url: n.url, workload: 'read-only', seconds: 8, connections: conns, cap: 20 })))
  const r = { requests: runs.reduce((a, x) => a + x.requests, 0) }
  const after = pids.map(cpuMicros)
  console.log(store, conns, 'conns', spread ? 'spread' : 'node1', Math.round(r.requests / 8), 'req/s', 'CPU us/req by node', after.map((a, i) => ((a - before[i]) / r.requests).toFixed(0)).join(' '), 'sum', (after.reduce((x, a, i) => x + a - before[i], 0) / r.requests).toFixed(0))
} finally {
  await stack.stop()
  await cleanup()
}
process.exit(0)
