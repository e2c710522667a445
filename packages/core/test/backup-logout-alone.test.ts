import { describe, expect, it } from 'vitest'
import type { ReplicatedSessionCluster } from '../src/cluster/replicated-session-cluster.js'
import type { SessionCluster } from '../src/cluster/session-cluster.js'
import { StaleReplicaError } from '../src/errors.js'
import { clustersStoppedAfterEach } from './support/session-cluster.js'

/*
 * A node that holds no copy of a session and is cut off from every other member (alone in its view). Found by the
 * fault suite (a 30 s partition of a non-owner, a destroy there, writes on the other side): the destroy did nothing
 * where no record was held, yet succeeded, and after the heal the session was back on every node.
 * - sync: the node may be the one cut off (its members failed), so it refuses to say anything about the session,
 *   reads and logouts alike (503: the balancer tries another node), instead of a new empty session or a logout that
 *   does not happen;
 * - async (availability first): the logout leaves a tombstone of its own, which reaches every member once they are
 *   back, and the session ends everywhere.
 */
const cluster = clustersStoppedAfterEach()
const holders = (nodes: SessionCluster[], id: string) => nodes.flatMap((n, i) => ((n as ReplicatedSessionCluster).peek(id) ? [i] : []))

async function isolatedNonOwner(replication: 'sync' | 'async') {
  const c = await cluster(4, { manager: 'backup', backups: 1, replication, tombstoneRetentionMs: 20_000 })
  const { nodes, network, clock } = c
  const id = nodes[0]!.generateId()
  await c.run(nodes[0]!.save(id, { n: 1 }))
  await clock.advance(1_000)
  const lonely = [1, 2, 3].find((i) => !holders(nodes, id).includes(i))!
  const addresses = nodes.map((n) => n.local.address)
  network.partition([addresses[lonely]!], addresses.filter((_, i) => i !== lonely))
  expect(await clock.advanceUntil(() => nodes[lonely]!.status().members.length === 0 && nodes[0]!.status().members.length === 2, { stepMs: 100, maxMs: 30_000 })).toBe(true)
  // Past the grace in which members that just failed are still asked.
  await clock.advance(10_000)
  return { c, id, lonely }
}

describe('backup manager: a node alone, holding no copy of a session', () => {
  it('sync: refuses the read and the logout (the session is not lost, and not reported gone)', async () => {
    const { c, id, lonely } = await isolatedNonOwner('sync')
    const { nodes, network, clock } = c
    await expect(c.run(nodes[lonely]!.load(id))).rejects.toThrow(StaleReplicaError)
    await expect(c.run(nodes[lonely]!.destroy(id))).rejects.toThrow(StaleReplicaError)
    network.heal()
    expect(await clock.advanceUntil(() => nodes.every((n) => n.status().members.length === 3), { stepMs: 100, maxMs: 30_000 })).toBe(true)
    expect((await c.run(nodes[lonely]!.load(id)))?.data).toEqual({ n: 1 })
    await c.run(nodes[lonely]!.destroy(id))
    for (const node of nodes) expect(await c.run(node.load(id))).toBeUndefined()
  })

  it('async: the logout leaves a tombstone that ends the session everywhere once the partition heals', async () => {
    const { c, id, lonely } = await isolatedNonOwner('async')
    const { nodes, network, clock } = c
    expect(await c.run(nodes[lonely]!.load(id))).toBeUndefined()
    await c.run(nodes[lonely]!.destroy(id))
    expect(nodes[lonely]!.status().tombstones).toBe(1)
    // The other side goes on writing; the partition outlasts the tombstone retention.
    const loaded = (await c.run(nodes[0]!.load(id)))!
    loaded.data.n = 2
    await c.run(nodes[0]!.save(id, loaded.data, { loaded }))
    await clock.advance(30_000)
    network.heal()
    expect(await clock.advanceUntil(() => nodes.every((n) => n.status().members.length === 3), { stepMs: 100, maxMs: 30_000 })).toBe(true)
    await clock.advance(10_000)
    for (const node of nodes) expect(await c.run(node.load(id))).toBeUndefined()
    expect(holders(nodes, id)).toEqual([])
  })
})
