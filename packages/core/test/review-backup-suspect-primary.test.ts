import { describe, expect, it } from 'vitest'
import type { ReplicatedSessionCluster } from '../src/cluster/replicated-session-cluster.js'
import type { SessionCluster } from '../src/cluster/session-cluster.js'
import { ownersOf } from '../src/replication/backup/placement.js'
import { clustersStoppedAfterEach } from './support/session-cluster.js'

/*
 * Review of the backup manager, reads on a node holding no copy when the session's primary host has just died (frames
 * to it vanish; no refusal), before and while it is suspected. #fetchWithStandIns replaces an owner that did not
 * answer by its stand-ins NOT ASKED YET and other than this node; when that leaves none, the read fails, although
 * every live owner answered:
 * - the reader is itself one of the dead primary's stand-ins (about half the non-owners with 4 nodes, backups 1);
 * - the primary is suspect: hasRoute(route) is false, so beforeRead asks every member, and no stand-in is left.
 * The control (a reader that is not a stand-in, before suspicion) passes.
 */
const cluster = clustersStoppedAfterEach()
const holders = (nodes: SessionCluster[], id: string) => nodes.flatMap((n, i) => ((n as ReplicatedSessionCluster).peek(id) ? [i] : []))

async function setUp(readerIsStandIn: boolean) {
  const c = await cluster(4, { manager: 'backup', backups: 1 })
  const { nodes } = c
  for (let attempt = 0; attempt < 50; attempt++) {
    const id = nodes[0]!.generateId()
    await c.run(nodes[0]!.save(id, { n: 1 }))
    const key = id.slice(0, id.lastIndexOf('.'))
    const live = [1, 2, 3].map((i) => ({ id: String(i), route: `node${i + 1}` }))
    const standIns = ownersOf(key, 'node1', live, 1).map((m) => Number(m.id))
    const reader = [1, 2, 3].find((i) => !holders(nodes, id).includes(i) && standIns.includes(i) === readerIsStandIn)
    if (reader === undefined) continue
    const addresses = nodes.map((n) => n.local.address)
    c.network.partition([addresses[0]!], addresses.slice(1))
    return { c, id, reader }
  }
  throw new Error('no session with such a reader')
}

const readOn = (c: Awaited<ReturnType<typeof cluster>>, node: SessionCluster, id: string) =>
  c.run(node.load(id)).then((l) => l?.data, (e: Error) => `${e.name}: ${e.message}`)

describe('review: backup manager, reads right after the primary host died', () => {
  it('control (passes): a reader that is not a stand-in, before suspicion', async () => {
    const { c, id, reader } = await setUp(false)
    expect(c.nodes[reader]!.isRouteLive('node1')).toBe(true)
    expect(await readOn(c, c.nodes[reader]!, id)).toEqual({ n: 1 })
  })

  it('a reader that is itself a stand-in of the dead primary, before suspicion', async () => {
    const { c, id, reader } = await setUp(true)
    expect(c.nodes[reader]!.isRouteLive('node1')).toBe(true)
    expect(await readOn(c, c.nodes[reader]!, id)).toEqual({ n: 1 })
  })

  it('a reader that is not a stand-in, while the primary is suspect', async () => {
    const { c, id, reader } = await setUp(false)
    const suspected = () => !c.nodes[reader]!.isRouteLive('node1') && c.nodes[reader]!.status().members.some((m) => m.route === 'node1')
    expect(await c.clock.advanceUntil(suspected, { stepMs: 50, maxMs: 30_000 })).toBe(true)
    expect(await readOn(c, c.nodes[reader]!, id)).toEqual({ n: 1 })
  })
})
