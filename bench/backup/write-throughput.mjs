// Aggregate write throughput, primary/backup against all-to-all, on 2, 4 and 8 nodes (real processes, loopback
// TCP, sync replication): every node creates --writes ~1 KiB sessions at once (64 in flight each; the writer is the
// session's primary, as behind a sticky balancer), and the cluster's writes per second and CPU per write summed over
// every node are taken over that window. The machine has fewer cores than nodes: with more nodes than cores, writes/s
// is bound by the CPU the whole cluster spends per write, which is the figure to compare.
//   pnpm build && node bench/backup/write-throughput.mjs [--sizes=2,4,8] [--writes=5000] [--runs=2]
import { args, fmt, median, printMachine, table } from '../replication/lib.mjs'
import { cpuSince, startCluster } from './cluster.mjs'

const opt = args({ sizes: '2,4,8', writes: 5_000, runs: 2 })
printMachine()
const MANAGERS = { delta: { manager: 'delta' }, backup: { manager: 'backup', backups: 1 } }

async function once(size, manager) {
  const { nodes, killAll } = await startCluster(size, { ...MANAGERS[manager], replication: 'sync' })
  try {
    const frames = async () => (await Promise.all(nodes.map((n) => n.call('counters')))).reduce((sum, c) => sum + (c['transport.frames.sent'] ?? 0), 0)
    const cpu0 = await cpuSince(nodes)
    const frames0 = await frames()
    const start = performance.now()
    await Promise.all(nodes.map((n) => n.call('fill', { count: opt.writes })))
    const ms = performance.now() - start
    const cpu = await cpuSince(nodes, cpu0.now)
    const writes = opt.writes * size
    return { rps: (writes * 1000) / ms, cpuUs: (cpu.ms * 1000) / writes, frames: ((await frames()) - frames0) / writes }
  } finally {
    await killAll()
  }
}

const rows = []
for (const size of String(opt.sizes).split(',').map(Number)) {
  const results = { delta: [], backup: [] }
  // Interleaved: delta, backup, delta, backup... so drift on a shared machine hits both alike.
  for (let run = 0; run < opt.runs; run++) for (const manager of Object.keys(MANAGERS)) results[manager].push(await once(size, manager))
  const m = (manager, key) => median(results[manager].map((r) => r[key]))
  for (const manager of Object.keys(MANAGERS)) {
    rows.push({
      nodes: size,
      manager,
      'writes/s (all nodes)': Math.round(m(manager, 'rps')).toLocaleString('en'),
      'CPU us / write (all nodes)': Math.round(m(manager, 'cpuUs')).toLocaleString('en'),
      'frames sent / write': fmt(m(manager, 'frames'), 2),
      'writes/s vs delta': fmt(m(manager, 'rps') / m('delta', 'rps'), 2),
      'CPU / write vs delta': fmt(m(manager, 'cpuUs') / m('delta', 'cpuUs'), 2),
    })
  }
}
table(rows)
console.log(JSON.stringify({ options: opt, rows }))
