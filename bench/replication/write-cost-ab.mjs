// write-cost.mjs for two core builds at once, on this noisy machine: both builds' three-node clusters live in this one
// process, and bursts of writes alternate between them (A, B, A, B, ...), so a slower stretch of the machine weighs
// on both alike. Prints the median CPU per write of each and the median of the burst-by-burst ratios A/B.
// A is packages/core/dist; B the build at SC_CORE_DIST_B (e.g. a previous commit built into a directory of its own).
//   pnpm build && SC_CORE_DIST_B=/tmp/base/packages/core/dist/index.js node bench/replication/write-cost-ab.mjs [bursts=20] [writes=5000] [concurrency=4]
import { pathToFileURL } from 'node:url'
import { freePorts } from '../side-by-side/lib/procs.mjs'
import { cartWrites, distUrl, eventually, median } from './lib.mjs'

const [bursts = 20, writes = 5_000, concurrency = 4] = process.argv.slice(2).map(Number)
if (!process.env.SC_CORE_DIST_B) throw new Error('set SC_CORE_DIST_B to the core build to compare with')

async function startCart(url, label) {
  const { createSessionCluster, silentLogger } = await import(url)
  const ports = await freePorts(3)
  const members = ports.map((p) => `127.0.0.1:${p}`)
  const clusters = ports.map((port, i) =>
    createSessionCluster({ route: `${label}${i + 1}`, host: '127.0.0.1', port, members, replication: 'sync', logger: silentLogger }),
  )
  await Promise.all(clusters.map((c) => c.start()))
  if (!(await eventually(() => clusters.every((c) => c.status().members.filter((m) => m.state === 'alive').length >= 2)))) {
    throw new Error(`${label}: the nodes did not all see each other alive`)
  }
  const run = cartWrites(clusters[0], concurrency)
  async function burst(count) {
    const cpu0 = process.cpuUsage()
    await run(count)
    const cpu = process.cpuUsage(cpu0)
    return (cpu.user + cpu.system) / count
  }
  return { burst, stop: () => Promise.all(clusters.map((c) => c.stop())) }
}

const b = process.env.SC_CORE_DIST_B
const a = await startCart(distUrl(), 'a')
const base = await startCart(b.startsWith('file:') ? b : pathToFileURL(b).href, 'b')
await a.burst(3_000)
await base.burst(3_000)
const rows = []
for (let i = 0; i < bursts; i++) {
  // Alternate which goes first, so neither always runs right after the other's garbage.
  const [x, y] = i % 2 ? [await base.burst(writes), await a.burst(writes)].reverse() : [await a.burst(writes), await base.burst(writes)]
  rows.push([x, y])
}
const ratios = rows.map(([x, y]) => x / y).sort((p, q) => p - q)
console.log(
  `CPU per write, median of ${bursts} bursts of ${writes}: A ${median(rows.map((r) => r[0])).toFixed(1)} us, B ${median(rows.map((r) => r[1])).toFixed(1)} us; ` +
    `A/B ${median(ratios).toFixed(3)} (middle half ${ratios[Math.floor(bursts / 4)].toFixed(3)}-${ratios[Math.floor((3 * bursts) / 4)].toFixed(3)})`,
)
await Promise.all([a.stop(), base.stop()])
process.exit(0)
