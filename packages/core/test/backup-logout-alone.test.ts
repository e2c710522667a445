import { describe, expect, it } from 'vitest'
import type { ReplicatedSessionCluster } from '../src/cluster/replicated-session-cluster.js'
import type { SessionCluster } from '../src/cluster/session-cluster.js'
import { clustersStoppedAfterEach } from './support/session-cluster.js'

/*
 * A logout on a node that holds no copy of the session and is cut off from every other member (alone in its view, so
 * it acknowledges on its own): found by the fault suite (a 30 s partition of a non-owner, a destroy there, writes on
 * the other side). The destroy used to do nothing where no record was held, yet succeeded: after the heal the session
 * was back on every node. A destruction is final, so the node keeps a tombstone of its own and hands it over.
 */
const cluster = clustersStoppedAfterEach()
const holders = (nodes: SessionCluster[], id: string) => nodes.flatMap((n, i) => ((n as ReplicatedSessionCluster).peek(id) ? [i] : []))

describe('backup manager: a logout on a node alone, holding no copy', () => {
  it('the session is destroyed everywhere once the partition heals, writes made meanwhile on the other side included', async () => {
    const c = await cluster(4, { manager: 'backup', backups: 1, tombstoneRetentionMs: 20_000 })
    const { nodes, network, clock } = c
    const id = nodes[0]!.generateId()
    await c.run(nodes[0]!.save(id, { n: 1 }))
    const lonely = [1, 2, 3].find((i) => !holders(nodes, id).includes(i))!

    const addresses = nodes.map((n) => n.local.address)
    network.partition([addresses[lonely]!], addresses.filter((_, i) => i !== lonely))
    expect(await clock.advanceUntil(() => nodes[lonely]!.status().members.length === 0 && nodes[0]!.status().members.length === 2, { stepMs: 100, maxMs: 30_000 })).toBe(true)
    // Past the ghosts' grace: the lonely node asks nobody, holds nothing, and acknowledges the logout.
    await clock.advance(10_000)
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
