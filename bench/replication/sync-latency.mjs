// Per-commit latency (load + change one attribute + save) of 2,000 sequential request cycles on node A, measured in
// A with process.hrtime.bigint(): 3 nodes sync (the default), 3 nodes async, and 1 node (no replication, the floor).
// Encrypted (AES-GCM) unless --plain. Each configuration: a fresh cluster, 200 warm-up commits, then --runs runs.
//   node bench/replication/sync-latency.mjs [--commits=2000] [--runs=3] [--plain]
import { args, eventually, fmt, machine, median, percentile, printMachine, realisticSession, startNode, table } from './lib.mjs'

const opt = args({ commits: 2_000, runs: 3, plain: false })
const SECRET = 'replication-bench-secret-0123456789'
printMachine()
console.log(`sync latency: ${opt.commits} sequential commits per run, ${opt.runs} runs, ${opt.plain ? 'plaintext' : 'AES-GCM'}, ~1 KiB session, one attribute changed per commit`)

const configs = [
  { name: '3 nodes, sync', nodes: 3, replication: 'sync' },
  { name: '3 nodes, async', nodes: 3, replication: 'async' },
  { name: '1 node (floor)', nodes: 1, replication: 'sync' },
]

const results = []
for (const config of configs) {
  const base = { replication: config.replication, ...(opt.plain ? {} : { secret: SECRET }) }
  const nodes = []
  try {
    for (let i = 0; i < config.nodes; i++) nodes.push(await startNode(`node${'ABC'[i]}`, { ...base, members: nodes.map((n) => `127.0.0.1:${n.port}`) }))
    const [a] = nodes
    await eventually(async () => (await Promise.all(nodes.map((n) => n.call('status')))).every((s) => s.members.length === config.nodes - 1))
    const id = await a.call('put', { data: realisticSession(1) })
    for (let run = 1; run <= opt.runs; run++) {
      const cpuBefore = await Promise.all(nodes.map((n) => n.call('cpu')))
      const us = await a.call('latency', { id, count: opt.commits, warmup: run === 1 ? 200 : 20, attr: 'views' })
      // CPU of every node over the run (warm-up included, so divided by every cycle), in microseconds per commit.
      const cpuAfter = await Promise.all(nodes.map((n) => n.call('cpu')))
      const cycles = opt.commits + (run === 1 ? 200 : 20)
      const cpuUs = (cpuAfter.reduce((x, y) => x + y, 0) - cpuBefore.reduce((x, y) => x + y, 0)) * 1000 / cycles
      const status = await a.call('status')
      const row = { config: config.name, run, p50: percentile(us, 50), p99: percentile(us, 99), max: Math.max(...us), mean: us.reduce((x, y) => x + y, 0) / us.length, cpuUs, ackMisses: status.counters['replication.ack-misses'] ?? 0 }
      results.push(row)
      console.log(`${config.name} run ${run}: p50 ${fmt(row.p50, 0)} us, p99 ${fmt(row.p99, 0)} us, max ${fmt(row.max, 0)} us, CPU ${fmt(cpuUs, 0)} us/commit (all nodes)`)
    }
    if (config.nodes > 1) {
      // every replica has the last value (async: after it drained)
      const want = (await a.call('load', { ids: [id] }))[0].views
      const ok = await eventually(async () => (await Promise.all(nodes.map(async (n) => (await n.call('load', { ids: [id] }))[0]?.views))).every((v) => v === want))
      if (!ok) console.error(`${config.name}: replicas did not converge on views=${want}`)
    }
  } finally {
    await Promise.all(nodes.map((n) => n.kill()))
  }
}

console.log('\nper run (microseconds):')
table(results.map((r) => ({ config: r.config, run: r.run, p50: fmt(r.p50, 0), p99: fmt(r.p99, 0), max: fmt(r.max, 0), mean: fmt(r.mean, 0), 'CPU us/commit': fmt(r.cpuUs, 0), 'ack misses': r.ackMisses })))
const floor = median(results.filter((r) => r.config === configs[2].name).map((r) => r.p50))
console.log('\nmedians of runs (microseconds):')
table(
  configs.map((c) => {
    const rs = results.filter((r) => r.config === c.name)
    const m = (k) => median(rs.map((r) => r[k]))
    return { config: c.name, p50: fmt(m('p50'), 0), p99: fmt(m('p99'), 0), max: fmt(m('max'), 0), 'CPU us/commit (all nodes)': fmt(m('cpuUs'), 0), 'p50 / floor p50': `${fmt(m('p50') / floor, 1)}x` }
  }),
)
const sync = median(results.filter((r) => r.config === configs[0].name).map((r) => r.p50))
const asyncP50 = median(results.filter((r) => r.config === configs[1].name).map((r) => r.p50))
console.log(`sync / async p50: ${fmt(sync / asyncP50, 1)}x`)
console.log(JSON.stringify({ bench: 'sync-latency', machine: machine(), options: opt, results }))
