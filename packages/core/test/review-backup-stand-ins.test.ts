import { describe, expect, it } from 'vitest'
import { StaleReplicaError } from '../src/errors.js'
import type { ReplicatedSessionCluster } from '../src/cluster/replicated-session-cluster.js'
import type { SessionCluster } from '../src/cluster/session-cluster.js'
import { clustersStoppedAfterEach } from './support/session-cluster.js'

/*
 * Review of the backup manager: when a writer cannot reach ANY owner of a session, its commit is acknowledged once
 * stand-ins (the next members of the ranking) applied a whole copy. A reader that reaches the owners asks the owners
 * only (it asks stand-ins just for owners IT cannot reach), and the primary, having lost its lease on the writer,
 * asks the other owner only: every node serves the session without the acknowledged write.
 * (All-to-all: the owners' leases on the writer have run out, so they fetch from the writer and fail, never stale.)
 */
const cluster = clustersStoppedAfterEach()
const holders = (nodes: SessionCluster[], id: string) => nodes.flatMap((n, i) => ((n as ReplicatedSessionCluster).peek(id) ? [i] : []))

describe('review: backup manager, writes held by stand-ins only', () => {
  it('a write only stand-ins applied (the writer reaches no owner) is not acknowledged, and is read everywhere once links are back', async () => {
    const c = await cluster(5, { manager: 'backup', backups: 1 })
    const { nodes, network } = c
    const id = nodes[0]!.generateId()
    await c.run(nodes[0]!.save(id, { n: 1 }))
    const owners = holders(nodes, id)
    expect(owners).toHaveLength(2)
    const others = [0, 1, 2, 3, 4].filter((i) => !owners.includes(i))
    const writer = others[0]!
    const loaded = (await c.run(nodes[writer]!.load(id)))!

    // The writer's frames to both owners are lost (one-way; it still hears them).
    for (const o of owners) network.cut(nodes[writer]!.local.address, nodes[o]!.local.address)
    // Fixed by refusing the acknowledgement (the reviewer's first suggestion): no owner holds the change, so readers
    // asking the owners would miss it. The stand-ins still take a copy.
    await expect(c.run(nodes[writer]!.save(id, { n: 2 }, { loaded }))).rejects.toBeInstanceOf(StaleReplicaError)
    expect(nodes[writer]!.status().counters['backup.stand-in-copies']).toBeGreaterThan(0)

    // Not lost either: once the links are back, the copies reach the owners and every node reads n: 2.
    network.heal()
    await c.clock.advance(30_000)
    const reads: Array<[number, unknown]> = []
    for (const i of [0, 1, 2, 3, 4]) {
      const data = await c.run(nodes[i]!.load(id)).then((l) => l?.data, (e: Error) => e.name)
      reads.push([i, data])
    }
    expect(reads.filter(([, data]) => JSON.stringify(data) !== JSON.stringify({ n: 2 }))).toEqual([])
  })
  // Passes (control): destroys go to every member, and the owners' pulls carry every tombstone.
  it('a destroy acknowledged while the destroyer reaches no owner never comes back', async () => {
    const c = await cluster(5, { manager: 'backup', backups: 1 })
    const { nodes, network } = c
    const id = nodes[0]!.generateId()
    await c.run(nodes[0]!.save(id, { n: 1 }))
    const owners = holders(nodes, id)
    const others = [0, 1, 2, 3, 4].filter((i) => !owners.includes(i))
    const destroyer = others[0]!
    await c.run(nodes[destroyer]!.load(id))
    for (const o of owners) network.cut(nodes[destroyer]!.local.address, nodes[o]!.local.address)
    // Logout: acknowledged (a non-owner applied the tombstone; destroys go to every member, with no owner check).
    await c.run(nodes[destroyer]!.destroy(id))

    const reads: Array<[number, unknown]> = []
    for (const i of [owners[0]!, ...others.slice(1), owners[1]!]) {
      const data = await c.run(nodes[i]!.load(id)).then((l) => l?.data, (e: Error) => e.name)
      reads.push([i, data])
    }
    expect(reads.filter(([, data]) => data !== undefined && typeof data !== 'string'), 'nodes serving the destroyed session').toEqual([])
  })
})
