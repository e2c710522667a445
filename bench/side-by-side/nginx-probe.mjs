// One stack behind nginx round-robin (or its own nginx mode), loaded by wrk through the balancer: each server
// process's CPU per request split into user and system time, its context switches per request (voluntary ones are
// sleeps and wake-ups), and with COUNTERS=1 every cluster counter that moved, per request. For where a request's
// cost goes once three processes share the machine; run after `pnpm build`. WARMUP=<seconds> (default 3) comes
// before the measured 8 s; WINDOWS=<n> measures n windows of 8 s in a row.
//   node bench/side-by-side/nginx-probe.mjs <store> [connections=4] [workload=read-only] [framework=fastify]
import { runWrk } from './lib/load.mjs'
import { cleanup, findTool } from './lib/procs.mjs'
import { startStack } from './lib/stack.mjs'
import { perRequest, snapshot } from './lib/usage-report.mjs'

const [store, connections = '4', workload = 'read-only', framework = 'fastify'] = process.argv.slice(2)
const tools = { nginx: findTool('nginx', ['/usr/sbin/nginx']), wrk: findTool('wrk'), redis: findTool('redis-server', ['/usr/bin/redis-server']) }
if (!tools.nginx || !tools.wrk) throw new Error('needs nginx and wrk (apt-get install -y nginx wrk)')
const stack = await startStack({ framework, store, tools, connections: 50 })
const counters = () =>
  Promise.all(stack.nodes.map(async (n) => ((await (await fetch(`${n.url}/cluster/status`)).json()).counters ?? {})))
try {
  const load = (seconds) => runWrk({ wrk: tools.wrk, url: stack.url, workload, seconds, connections: Number(connections), cap: 20 })
  const warmup = Number(process.env.WARMUP ?? 3)
  if (warmup > 0) await load(warmup)
  const processes = stack.processes.filter((p) => p.role !== 'nginx')
  // WINDOWS=n measures n windows back to back: how the cost settles as the processes warm up.
  for (let window = 0; window < Number(process.env.WINDOWS ?? 1); window++) {
    const [before, countersBefore] = [snapshot(processes), await counters()]
    const result = await load(8)
    const [after, countersAfter] = [snapshot(processes), await counters()]
    const { requests } = result
    console.log(`${store} ${framework} ${workload} ${connections} conns: ${Math.round(requests / 8)} req/s, p50 ${result.latency_us.p50} us`)
    console.log(`  per request (nginx not counted): ${perRequest(before, after, requests).join(', ')}`)
    if (process.env.COUNTERS === '1') {
      countersAfter.forEach((now, i) => {
        const moved = Object.entries(now)
          .filter(([k, v]) => typeof v === 'number' && v !== (countersBefore[i][k] ?? 0))
          .map(([k, v]) => `${k}=${((v - (countersBefore[i][k] ?? 0)) / requests).toFixed(3)}`)
        console.log(`  ${stack.nodes[i].route}: ${moved.join(' ')}`)
      })
    }
  }
} finally {
  await stack.stop()
  await cleanup()
}
process.exit(0)
