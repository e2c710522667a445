// Time to restore full redundancy after a SIGKILL: 5 nodes (manager 'backup', one backup, library defaults
// otherwise), 100,000 ~1 KiB sessions created on every node in turn (each node the primary of a fifth), then one
// node SIGKILLed. Measured from the kill: when every survivor has removed it (failure detection), and when every
// session is back on two live nodes with no restore under way (each survivor's status(): the sessions it holds and
// owns, summed, equal 2 x sessions, and nothing is catching up). Status is polled every --poll ms.
//   pnpm build && node bench/backup/restore.mjs [--sessions=100000] [--nodes=5] [--runs=1] [--poll=250]
import { args, fmt, printMachine, table } from '../replication/lib.mjs'
import { cpuSince, startCluster } from './cluster.mjs'

const opt = args({ sessions: 100_000, nodes: 5, runs: 1, poll: 250 })
printMachine()
const OPTIONS = { manager: 'backup', backups: 1, replication: 'sync' }
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function redundancy(nodes) {
  const statuses = await Promise.all(nodes.map((n) => n.call('status')))
  return {
    members: Math.min(...statuses.map((s) => s.members.length)),
    owned: statuses.reduce((sum, s) => sum + s.strategy.sessions.owned, 0),
    catchingUp: statuses.reduce((sum, s) => sum + s.strategy.rebalance.catchingUp, 0),
    bytes: statuses.reduce((sum, s) => sum + (s.counters['transport.bytes.sent'] ?? 0), 0),
  }
}

async function until(nodes, check, timeoutMs) {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const r = await redundancy(nodes)
    if (check(r)) return r
    if (performance.now() > deadline) throw new Error(`not restored within ${timeoutMs} ms: ${JSON.stringify(r)}`)
    await sleep(opt.poll)
  }
}

const rows = []
for (let run = 1; run <= opt.runs; run++) {
  const { nodes, killAll } = await startCluster(opt.nodes, OPTIONS)
  try {
    const fillStart = performance.now()
    await Promise.all(nodes.map((n) => n.call('fill', { count: Math.round(opt.sessions / opt.nodes) })))
    const fillMs = performance.now() - fillStart
    const want = 2 * opt.sessions
    await until(nodes, (r) => r.owned === want && r.catchingUp === 0, 120_000)
    // Steady state with every session in place: what a node spends doing nothing (heartbeats, maintenance passes).
    const idle0 = await cpuSince(nodes)
    await sleep(5_000)
    const idleCpuPct = (100 * (await cpuSince(nodes, idle0.now)).ms) / 5_000 / opt.nodes
    const victim = nodes[Math.floor(opt.nodes / 2)]
    const survivors = nodes.filter((n) => n !== victim)
    const before = await redundancy(survivors)
    const killedAt = performance.now()
    await victim.kill('SIGKILL')
    await until(survivors, (r) => r.members === opt.nodes - 2, 60_000)
    const detectedMs = performance.now() - killedAt
    const after = await until(survivors, (r) => r.members === opt.nodes - 2 && r.owned === want && r.catchingUp === 0, 600_000)
    const restoredMs = performance.now() - killedAt
    rows.push({
      run,
      sessions: opt.sessions.toLocaleString('en'),
      'fill (s)': fmt(fillMs / 1000, 1),
      'idle CPU per node (% of a core)': fmt(idleCpuPct, 1),
      'copies lost with the node': (want - before.owned).toLocaleString('en'),
      'detected (s after kill)': fmt(detectedMs / 1000, 2),
      'restored (s after kill)': fmt(restoredMs / 1000, 2),
      'restore after detection (s)': fmt((restoredMs - detectedMs) / 1000, 2),
      'MB sent by survivors': fmt((after.bytes - before.bytes) / 1e6, 1),
    })
  } finally {
    await killAll()
  }
}
table(rows)
console.log(JSON.stringify({ options: opt, rows }))
