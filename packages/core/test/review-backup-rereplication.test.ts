import { describe, expect, it } from 'vitest'
import type { ReplicatedSessionCluster } from '../src/cluster/replicated-session-cluster.js'
import type { SessionCluster } from '../src/cluster/session-cluster.js'
import { clustersStoppedAfterEach } from './support/session-cluster.js'

/*
 * Review of the backup manager: re-replication after a member dies relies on each new owner PULLING from the others
 * what it owns, as the serving member computes placement. A member that has not noticed the death yet still places
 * the dead member's sessions on it and lists none of them for the puller; the pull still counts as complete (the
 * server "knew" the puller), the puller stops catching up, and nobody pushes later. The sessions stay on one node.
 */
const cluster = clustersStoppedAfterEach()
const holders = (nodes: SessionCluster[], id: string) => nodes.flatMap((n, i) => ((n as ReplicatedSessionCluster).peek(id) ? [i] : []))
const routesOf = (node: SessionCluster) => node.status().members.map((m) => m.route)

describe('review: backup manager, re-replication after a kill', () => {
  it('every session is back on backups + 1 live nodes even when members notice the death at different times', async () => {
    const c = await cluster(4, { manager: 'backup', backups: 1 })
    const { nodes, network, clock } = c
    const ids: string[] = []
    for (let i = 0; i < 40; i++) ids.push(nodes[0]!.generateId())
    for (const [i, id] of ids.entries()) await c.run(nodes[0]!.save(id, { n: i }))

    // Node 2 (node2 route) notices node 1's failure first (it cannot reach it); nodes 3 and 4 still see it alive.
    const dying = nodes[0]!.local.address
    network.cut(nodes[1]!.local.address, dying)
    network.cut(dying, nodes[1]!.local.address)
    expect(await clock.advanceUntil(() => !routesOf(nodes[1]!).includes('node1'), { stepMs: 100, maxMs: 30_000 })).toBe(true)
    expect(routesOf(nodes[2]!)).toContain('node1')
    expect(routesOf(nodes[3]!)).toContain('node1')
    // Node 2 catches up (pulls from nodes 3 and 4 what it owns, as they place sessions).
    await clock.advance(3_000)
    expect(nodes[1]!.status().strategy).toMatchObject({ rebalance: { catchingUp: 0 } })

    // Then node 1 dies for good; the others notice and re-replicate.
    await c.kill(0)
    await clock.advance(20_000)
    const live = [nodes[1]!, nodes[2]!, nodes[3]!]
    for (const node of live) expect(routesOf(node)).not.toContain('node1')
    const underReplicated = ids.filter((id) => holders(live, id).length < 2)
    // One more failure (at most `backups` at once, long after the first): the sole holder dies, the session is gone.
    const victim = underReplicated[0]
    if (victim !== undefined) {
      const sole = holders(live, victim)[0]!
      await c.kill(sole + 1)
      await clock.advance(20_000)
      const survivor = live.find((_, i) => i !== sole)!
      expect(survivor.status().members).toHaveLength(1)
      expect((await c.run(survivor.load(victim)))?.data, `${victim}: lost with its sole holder`).toEqual({ n: ids.indexOf(victim) })
    }
    expect(underReplicated, `${underReplicated.length} of ${ids.length} sessions on one live node only`).toEqual([])
  })
})
