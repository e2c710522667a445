// Counts (no timing) for primary/backup against all-to-all, in one process over the in-memory network:
// sessions each node holds, and cluster replication frames (`rd` batches) per write, for 2, 4 and 8 nodes.
//   pnpm build && node bench/backup/placement-counts.mjs [--sessions 2000]
// Writes come from the session's primary (a sticky balancer) and, separately, from a node that does not own the
// session (a round-robin balancer): the second costs one fetch more and leaves a copy that goes back later.
import { createSessionCluster, silentLogger } from '../../packages/core/dist/index.js'
import { ManualClock, MemoryNetwork, memoryTransport } from '../../packages/core/dist/testing.js'

const args = process.argv.slice(2)
const SESSIONS = Number(args[args.indexOf('--sessions') + 1] || 2000)
const WRITES = 500

async function cluster(size, manager) {
  const clock = new ManualClock()
  const network = new MemoryNetwork({ clock })
  const members = Array.from({ length: size }, (_, i) => `127.0.0.1:${7000 + i}`)
  const nodes = members.map((_, i) =>
    createSessionCluster({
      route: `node${i + 1}`,
      transport: memoryTransport({ network, port: 7000 + i }),
      members,
      clock,
      logger: silentLogger,
      ...(manager === 'backup' ? { manager, backups: 1 } : {}),
    }),
  )
  const starting = Promise.all(nodes.map((n) => n.start()))
  await clock.advanceUntil(() => nodes.every((n) => n.ready && n.status().members.length === size - 1), { stepMs: 100, maxMs: 60_000 })
  await starting
  return { clock, nodes }
}

const frames = (nodes) => nodes.reduce((sum, n) => sum + (n.status().counters['channel.sent.rd'] ?? 0), 0)

async function measure(size, manager) {
  const { clock, nodes } = await cluster(size, manager)
  const ids = []
  // Sessions created on every node in turn, as a balancer spreads new users.
  for (let i = 0; i < SESSIONS; i++) {
    const node = nodes[i % size]
    const id = node.generateId()
    ids.push([id, i % size])
    await node.save(id, { i, items: [`item-${i}`] })
  }
  const held = nodes.map((n) => n.size)
  // Writes on the primary, one at a time (each its own frame): frames per write.
  let before = frames(nodes)
  for (let w = 0; w < WRITES; w++) {
    const [id, owner] = ids[w]
    const loaded = await nodes[owner].load(id)
    loaded.data.items.push(`w${w}`)
    await nodes[owner].save(id, loaded.data, { loaded })
  }
  const sticky = (frames(nodes) - before) / WRITES
  // Writes on another node (the next one): round-robin.
  before = frames(nodes)
  const fetchesBefore = nodes.reduce((s, n) => s + (n.status().counters['replication.read-fetches'] ?? 0), 0)
  for (let w = 0; w < WRITES; w++) {
    const [id, owner] = ids[WRITES + w]
    const node = nodes[(owner + 1) % size]
    const loaded = await node.load(id)
    loaded.data.items.push(`r${w}`)
    await node.save(id, loaded.data, { loaded })
  }
  const roundRobin = (frames(nodes) - before) / WRITES
  const fetches = (nodes.reduce((s, n) => s + (n.status().counters['replication.read-fetches'] ?? 0), 0) - fetchesBefore) / WRITES
  // Copies left by round-robin writes go back to their owners (a few relocation passes later).
  await clock.advance(30_000)
  const settled = nodes.map((n) => n.size)
  for (const n of nodes) {
    const stopping = n.stop()
    await clock.advanceUntil(() => false, { stepMs: 50, maxMs: 3_000 })
    await stopping
  }
  return { held, settled, sticky, roundRobin, fetches }
}

console.log(`| nodes | manager | sessions held per node (of ${SESSIONS}) | share of all-to-all | target | rd frames per write, on the primary | on another node (+ fetches per read) |`)
console.log('|---|---|---|---|---|---|---|')
for (const size of [2, 4, 8]) {
  for (const manager of ['delta', 'backup']) {
    const r = await measure(size, manager)
    const mean = r.settled.reduce((a, b) => a + b, 0) / size
    const target = manager === 'backup' ? `${(Math.min(2, size) / size).toFixed(2)}` : '1'
    console.log(
      `| ${size} | ${manager} | ${Math.min(...r.settled)}-${Math.max(...r.settled)} (mean ${mean.toFixed(0)}) | ${(mean / SESSIONS).toFixed(2)} | ${target} | ${r.sticky.toFixed(2)} | ${r.roundRobin.toFixed(2)} (${r.fetches.toFixed(2)}) |`,
    )
  }
}
