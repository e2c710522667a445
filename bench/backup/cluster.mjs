// Real-process clusters for the primary/backup benchmarks: `nodes` cluster nodes (bench/replication/cluster-node.mjs,
// the built core) on free loopback ports, all members of each other, resolved once every one sees every other.
import { createServer } from 'node:net'
import { eventually, startNode } from '../replication/lib.mjs'

async function freePort() {
  const server = createServer()
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** Start `count` nodes with `options`; `killAll()` ends every one still running. */
export async function startCluster(count, options) {
  const ports = await Promise.all(Array.from({ length: count }, freePort))
  const members = ports.map((port) => `127.0.0.1:${port}`)
  const nodes = await Promise.all(ports.map((port, i) => startNode(`node${i + 1}`, { ...options, route: `node${i + 1}`, port, members })))
  const settled = await eventually(async () => (await Promise.all(nodes.map((n) => n.call('status')))).every((s) => s.members.length === count - 1), { timeoutMs: 30_000 })
  if (!settled) throw new Error(`${count} nodes did not see each other within 30 s`)
  return { nodes, killAll: () => Promise.all(nodes.map((n) => n.kill('SIGKILL').catch(() => {}))) }
}

/** CPU ms used by each node since the last call (the first call starts the count). */
export async function cpuSince(nodes, before) {
  const now = await Promise.all(nodes.map((n) => n.call('cpu')))
  return { now, ms: now.reduce((sum, x, i) => sum + x - (before?.[i] ?? 0), 0) }
}
