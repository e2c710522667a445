// What a sync write costs without HTTP: three nodes in this one process over loopback TCP, `concurrency` saves in
// flight on the first node (so batches carry several commits, as under load), each adding an item to one of 50
// carts (restarted after 20 items, the side-by-side harness's sessions). Prints this process's CPU per write:
// the writer's diff, commit and acks plus both peers' apply and acks. One process, so `node --cpu-prof` sees
// all of it without other processes preempting the sampler.
//   pnpm build && node bench/replication/write-cost.mjs [writes=20000] [concurrency=8] [nodes=3]
import { freePorts } from '../side-by-side/lib/procs.mjs'
import { cartWrites, distUrl, eventually } from './lib.mjs'

const { createSessionCluster, silentLogger } = await import(distUrl())

const [writes = 20_000, concurrency = 8, nodes = 3] = process.argv.slice(2).map(Number)
const ports = await freePorts(nodes)
const members = ports.map((p) => `127.0.0.1:${p}`)
const clusters = ports.map((port, i) =>
  createSessionCluster({ route: `n${i + 1}`, host: '127.0.0.1', port, members, replication: 'sync', logger: silentLogger }),
)
await Promise.all(clusters.map((c) => c.start()))
const formed = await eventually(() => clusters.every((c) => c.status().members.filter((m) => m.state === 'alive').length >= nodes - 1))
if (!formed) throw new Error(`the ${nodes} nodes did not all see each other alive`)
const writer = clusters[0]
const run = cartWrites(writer, concurrency)
await run(3_000)
const cpu0 = process.cpuUsage()
const wall0 = performance.now()
await run(writes)
const cpu = process.cpuUsage(cpu0)
const wall = performance.now() - wall0
const counters = writer.status().counters ?? {}
console.log(
  `${nodes} nodes, ${concurrency} in flight: ${((cpu.user + cpu.system) / writes).toFixed(1)} us CPU per write ` +
    `(${(cpu.user / writes).toFixed(1)} user, ${(cpu.system / writes).toFixed(1)} system), ${(1000 * wall / writes).toFixed(1)} us wall; ` +
    `writer's commits per batch ${((counters['sessions.commits'] ?? 0) / (counters['replication.batches'] || 1)).toFixed(2)}`,
)
await Promise.all(clusters.map((c) => c.stop()))
