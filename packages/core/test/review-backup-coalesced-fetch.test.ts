import { describe, expect, it } from 'vitest'
import type { ReplicatedSessionCluster } from '../src/cluster/replicated-session-cluster.js'
import type { SessionCluster } from '../src/cluster/session-cluster.js'
import { clustersStoppedAfterEach } from './support/session-cluster.js'

/*
 * Review of the backup manager: a read that starts AFTER a write was acknowledged joins a fetch of the same session
 * that another read started BEFORE that write, and is served the fetch's older answer (beforeRead coalesces fetches
 * per session in #fetches). All-to-all does not coalesce, and its contract is "no read misses an acknowledged write".
 */
const cluster = clustersStoppedAfterEach()
const holders = (nodes: SessionCluster[], id: string) => nodes.flatMap((n, i) => ((n as ReplicatedSessionCluster).peek(id) ? [i] : []))

describe('review: backup manager, coalesced read fetches', () => {
  it('a read begun after a write was acknowledged does not serve a fetch begun before it', async () => {
    const c = await cluster(4, { manager: 'backup', backups: 1, faults: { delayMs: [5, 5] } })
    const { nodes, network, clock } = c
    const id = nodes[0]!.generateId()
    await c.run(nodes[0]!.save(id, { n: 1 }))
    const owners = holders(nodes, id)
    expect(owners).toContain(0)
    const reader = [1, 2, 3].find((i) => !owners.includes(i))!
    const writer = [1, 2, 3].find((i) => i !== reader)!

    // R1 on the reader: its fetch requests leave now and reach the owners 5 ms later, whose answers (n: 1) are
    // then held on their way back (the reader is frozen for a moment, as a GC pause or a slow link would).
    const first = nodes[reader]!.load(id)
    await clock.advance(5)
    network.pause(nodes[reader]!.local.address)

    // A write elsewhere is acknowledged by every owner meanwhile.
    const loaded = (await c.run(nodes[writer]!.load(id)))!
    await c.run(nodes[writer]!.save(id, { n: 2 }, { loaded }))
    for (const i of owners) expect((nodes[i] as ReplicatedSessionCluster).peek(id)).toEqual({ n: 2 })

    // R2 on the reader starts after that acknowledgement: it must see n: 2.
    const second = nodes[reader]!.load(id)
    network.resume(nodes[reader]!.local.address)
    await c.run(first)
    const result = await c.run(second)
    expect(result?.data).toEqual({ n: 2 })
  })
})
