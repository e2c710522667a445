import { describe, expect, it } from 'vitest'
import type { ReplicatedSessionCluster } from '../src/cluster/replicated-session-cluster.js'
import type { SessionCluster } from '../src/cluster/session-cluster.js'
import { clustersStoppedAfterEach } from './support/session-cluster.js'

/*
 * Review of the backup manager: save() without `loaded` diffs against the local copy. On a non-owner that copy is a
 * cache of an earlier fetch (kept ~ghostMs after its last use), which writes elsewhere do not update; #holdCopy
 * fetches only when there is NO local copy. A save whose data equals the stale copy is taken for an access only, and
 * the acknowledged save is lost. (All-to-all, sync: the local copy holds every acknowledged write, so the diff is right.)
 */
const cluster = clustersStoppedAfterEach()
const holders = (nodes: SessionCluster[], id: string) => nodes.flatMap((n, i) => ((n as ReplicatedSessionCluster).peek(id) ? [i] : []))

describe('review: backup manager, save without a load on a node holding a stale cached copy', () => {
  it.each(['delta', 'backup'] as const)('%s: the last acknowledged save wins', async (manager) => {
    const c = await cluster(4, { manager, ...(manager === 'backup' ? { backups: 1 } : {}) })
    const { nodes } = c
    const id = nodes[0]!.generateId()
    await c.run(nodes[0]!.save(id, { cart: 'empty' }))
    const other = manager === 'backup' ? [1, 2, 3].find((i) => !holders(nodes, id).includes(i))! : 1
    // The other node reads the session (a cached copy stays there), then the owner changes it.
    expect((await c.run(nodes[other]!.load(id)))?.data).toEqual({ cart: 'empty' })
    await c.run(nodes[0]!.save(id, { cart: 'full' }))
    // A save of the whole session on the other node (no `loaded`: the store's set() without a get, an app's direct call).
    await c.run(nodes[other]!.save(id, { cart: 'empty' }))
    expect((await c.run(nodes[0]!.load(id)))?.data).toEqual({ cart: 'empty' })
  })
})
