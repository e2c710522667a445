// Primary/backup replication between real processes: five nodes (one backup), 5,000 sessions, one node SIGKILLed,
// then a second once the survivors have restored every session to two copies. No session may be lost, and every one
// must be back on two live nodes. Runs the built core (`pnpm test` builds first).
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { eventually, forkNode, type NodeProcess } from '../../packages/core/test/fixtures/node-process.mjs'
import { freePort } from '../support/ports.js'

const script = fileURLToPath(new URL('../../packages/core/test/fixtures/cluster-node.mjs', import.meta.url))
// Failure detection a little slower than the other process tests: five busy processes share two cores here.
const SETTINGS = { manager: 'backup', backups: 1, heartbeatIntervalMs: 200, suspectTimeoutMs: 1_500, verifyTimeoutMs: 500, ackTimeoutMs: 3_000, stateTransferTimeoutMs: 20_000 }
const NODES = 5
const SESSIONS = 5_000

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => {})
})

/** How many of these nodes hold their own copy of each session. */
async function copiesOf(nodes: NodeProcess[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>()
  for (const node of nodes) {
    for (const id of await node.call<string[]>('held')) {
      const base = id.slice(0, id.lastIndexOf('.'))
      counts.set(base, (counts.get(base) ?? 0) + 1)
    }
  }
  return counts
}

/** Every session on exactly two of these nodes, and no restore under way. */
async function restored(nodes: NodeProcess[], ids: string[]): Promise<boolean> {
  const statuses = await Promise.all(nodes.map((n) => n.call<{ members: unknown[]; strategy: { rebalance: { catchingUp: number } } }>('status')))
  if (statuses.some((s) => s.members.length !== nodes.length - 1 || s.strategy.rebalance.catchingUp > 0)) return false
  const counts = await copiesOf(nodes)
  return ids.every((id) => counts.get(id.slice(0, id.lastIndexOf('.'))) === 2)
}

describe('primary/backup between real processes (SIGKILL)', () => {
  it('five nodes, 5,000 sessions: a node killed loses none; a second killed after the restore loses none', async () => {
    const ports = await Promise.all(Array.from({ length: NODES }, () => freePort()))
    const members = ports.map((port) => `127.0.0.1:${port}`)
    const nodes = await Promise.all(ports.map((port, i) => forkNode(script, `node${i + 1}`, { route: `node${i + 1}`, port, members, ...SETTINGS })))
    for (const n of nodes) cleanups.push(() => n.kill('SIGKILL'))
    expect(await eventually(async () => (await Promise.all(nodes.map((n) => n.call<{ members: unknown[] }>('status')))).every((s) => s.members.length === NODES - 1), { timeoutMs: 15_000 })).toBe(true)

    // 1,000 sessions created on each node (its primary), so every node is some sessions' primary and others' backup.
    const created = await Promise.all(nodes.map((n) => n.call<string[]>('create', { count: SESSIONS / NODES }, 60_000)))
    // Session k of node j was created with i = k: the content each read must find.
    const ids = created.flat()
    const expected = new Map(created.flatMap((list) => list.map((id, k) => [id, k] as const)))
    const loadedOk = async (survivors: NodeProcess[]) => {
      const bad: string[] = []
      for (const [j, list] of created.entries()) {
        for (let start = 0; start < list.length; start += 250) {
          const batch = list.slice(start, start + 250)
          const reader = survivors[(j + start / 250) % survivors.length]!
          const data = await reader.call<Array<{ i: number } | null>>('load', { ids: batch }, 30_000)
          for (const [k, d] of data.entries()) if (d?.i !== expected.get(batch[k]!)) bad.push(batch[k]!)
        }
      }
      return bad
    }
    // Two copies each (a copy a loaded node stood in for goes back to the owners shortly).
    expect(await eventually(() => restored(nodes, ids), { timeoutMs: 60_000, intervalMs: 200 })).toBe(true)

    // Each node holds about (backups + 1) / nodes of the sessions, not all of them.
    const held = await Promise.all(nodes.map(async (n) => (await n.call<string[]>('held')).length))
    for (const count of held) expect(count).toBeLessThan(SESSIONS * 0.6)

    await nodes[2]!.kill('SIGKILL')
    let survivors = nodes.filter((_, i) => i !== 2)
    expect(await eventually(() => restored(survivors, ids), { timeoutMs: 60_000, intervalMs: 200 })).toBe(true)
    expect(await loadedOk(survivors)).toEqual([])

    await nodes[0]!.kill('SIGKILL')
    survivors = survivors.filter((n) => n !== nodes[0])
    expect(await eventually(() => restored(survivors, ids), { timeoutMs: 60_000, intervalMs: 200 })).toBe(true)
    expect(await loadedOk(survivors)).toEqual([])
  }, 300_000)
})
