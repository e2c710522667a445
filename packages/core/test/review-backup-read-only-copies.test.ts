import { describe, expect, it } from 'vitest'
import type { ReplicatedSessionCluster } from '../src/cluster/replicated-session-cluster.js'
import type { SessionCluster } from '../src/cluster/session-cluster.js'
import { clustersStoppedAfterEach } from './support/session-cluster.js'

/*
 * Review of the backup manager (cost, not safety): a node that only READ sessions it does not own (a round-robin
 * balancer) fetched each one whole from its owners, then Relocation pushes each copy back whole to every owner
 * before dropping it, although the owners hold all of it (nothing changed here). Each such read costs the session's
 * bytes three times (fetch + push to backups + 1 owners). Expected: an unchanged copy is dropped without a push.
 */
const cluster = clustersStoppedAfterEach()
const holders = (nodes: SessionCluster[], id: string) => nodes.flatMap((n, i) => ((n as ReplicatedSessionCluster).peek(id) ? [i] : []))

describe('review: backup manager, copies fetched for reads only', () => {
  it('a copy only read here is dropped without pushing it back to its owners', async () => {
    const c = await cluster(4, { manager: 'backup', backups: 1 })
    const { nodes, clock } = c
    const ids: string[] = []
    for (let i = 0; i < 50; i++) ids.push(nodes[0]!.generateId())
    for (const [i, id] of ids.entries()) await c.run(nodes[0]!.save(id, { n: i, payload: 'x'.repeat(1_000) }))
    const reader = [1, 2, 3].find((i) => ids.every((id) => !holders(nodes, id).includes(i)))
      ?? [1, 2, 3].reduce((best, i) => (ids.filter((id) => !holders(nodes, id).includes(i)).length > ids.filter((id) => !holders(nodes, id).includes(best)).length ? i : best))
    const notOwned = ids.filter((id) => !holders(nodes, id).includes(reader))
    for (const id of notOwned) expect((await c.run(nodes[reader]!.load(id)))?.data).toMatchObject({ payload: expect.any(String) })
    await clock.advance(20_000)
    for (const id of notOwned) expect(holders(nodes, id)).not.toContain(reader)
    const pushed = nodes[reader]!.status().counters['backup.copies-pushed'] ?? 0
    expect({ readOnlyCopies: notOwned.length, pushedBack: pushed }).toEqual({ readOnlyCopies: notOwned.length, pushedBack: 0 })
  })
})
