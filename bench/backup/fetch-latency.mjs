// Fetch latency on a miss: a node asked for a session it does not hold fetches it from the session's owners in one
// round trip. 4 real processes (manager 'backup', one backup, sync), --sessions created on node1; each other node
// then loads, one at a time, the sessions it holds no copy of (every one of those loads is a miss), and node1 loads
// the same sessions from its own table for comparison. Times are of cluster.load() inside the node, in ms.
//   pnpm build && node bench/backup/fetch-latency.mjs [--sessions=3000] [--runs=2]
import { args, fmt, percentile, printMachine, table } from '../replication/lib.mjs'
import { startCluster } from './cluster.mjs'

const opt = args({ sessions: 3_000, runs: 2 })
printMachine()
const ms = (us) => fmt(us / 1000, 3)

const misses = []
const local = []
let notFound = 0
for (let run = 0; run < opt.runs; run++) {
  const { nodes, killAll } = await startCluster(4, { manager: 'backup', backups: 1, replication: 'sync' })
  try {
    const ids = await nodes[0].call('create', { count: opt.sessions, size: 1024 })
    for (const reader of nodes.slice(1)) {
      const held = new Set(await reader.call('held'))
      const missed = ids.filter((id) => !held.has(id))
      const times = await reader.call('timedLoads', { ids: missed })
      notFound += times.filter((t) => t < 0).length
      misses.push(...times.filter((t) => t >= 0))
    }
    local.push(...(await nodes[0].call('timedLoads', { ids })))
  } finally {
    await killAll()
  }
}
const row = (what, xs) => ({ load: what, count: xs.length, 'p50 ms': ms(percentile(xs, 50)), 'p90 ms': ms(percentile(xs, 90)), 'p99 ms': ms(percentile(xs, 99)), 'max ms': ms(Math.max(...xs)) })
table([row('miss: fetched from the owners', misses), row('held: the primary, from its own table', local)])
if (notFound > 0) console.log(`NOT FOUND: ${notFound} loads found no session`)
console.log(JSON.stringify({ options: opt, misses: misses.length, notFound }))
