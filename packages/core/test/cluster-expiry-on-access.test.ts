import { afterEach, describe, expect, it } from 'vitest'
import type { SessionCluster } from '../src/cluster/session-cluster.js'
import { memorySessionClusters } from './support/session-cluster.js'

// Tomcat checks a session's idle time when it is accessed, not only in its background sweep: a read never
// returns a session past its idle limit, however long the sweep interval.
let cleanup: () => Promise<void> = async () => {}
afterEach(() => cleanup())

async function cluster(count: number) {
  // Sweeps far apart: anything expired here was expired by the read.
  const c = memorySessionClusters({ expiryIntervalMs: 3_600_000, accessFlushIntervalMs: 5_000 })
  cleanup = c.stopAll
  await c.add(count)
  return c
}

/** Run a load while the manual clock moves, so the members it asks can answer. */
async function loadWhileTimeRuns(c: Awaited<ReturnType<typeof cluster>>, node: SessionCluster, id: string) {
  let settled = false
  const loading = node.load(id).finally(() => {
    settled = true
  })
  await c.clock.advanceUntil(() => settled, { stepMs: 10, maxMs: 10_000 })
  return loading
}

describe('expiry checked on access', () => {
  it('a session idle past its limit is not returned, and is expired on every node, long before a sweep', async () => {
    const c = await cluster(2)
    const [a, b] = c.nodes as [SessionCluster, SessionCluster]
    const expired: string[] = []
    b.on('expired', (e) => expired.push(e.id))
    const id = a.generateId()
    await a.save(id, { k: 1 }, { maxInactiveMs: 1_000 })
    await c.clock.advance(999)
    expect((await loadWhileTimeRuns(c, a, id))?.data).toEqual({ k: 1 })
    await c.clock.advance(1_000)
    expect(await loadWhileTimeRuns(c, a, id)).toBeUndefined()
    await c.clock.advanceUntil(() => expired.length === 1, { stepMs: 10, maxMs: 5_000 })
    // (an expired event names the session by its random part; the route it carries is the receiver's)
    expect(expired.map((e) => e.slice(0, e.lastIndexOf('.')))).toEqual([id.slice(0, id.lastIndexOf('.'))])
    expect(await b.load(id)).toBeUndefined()
  })

  it('a session used on another node within its limit, whose access has not reached this node, is still returned', async () => {
    const c = await cluster(2)
    const [a, b] = c.nodes as [SessionCluster, SessionCluster]
    const id = a.generateId()
    await a.save(id, { k: 1 }, { maxInactiveMs: 1_000 })
    await c.clock.advance(800)
    b.touch(id) // recorded on B; A hears of it at B's next access flush, seconds away
    await c.clock.advance(500)
    expect(a.meta(id)!.lastAccessedAt + 1_000).toBeLessThanOrEqual(c.clock.now())
    expect((await loadWhileTimeRuns(c, a, id))?.data).toEqual({ k: 1 })
  })

  // A read concurrent with a destroy may return the session as it was or no session, never an emptied one (the
  // fault suite found this: a record looked up before an await and read after the destroy had emptied it).
  it('a read racing a destroy on the same node returns the session or nothing, never an emptied session', async () => {
    const c = await cluster(2)
    const [a] = c.nodes as [SessionCluster]
    const id = a.generateId()
    await a.save(id, { k: 1 })
    let destroyed = false
    const reading = a.load(id)
    const destroying = a.destroy(id).finally(() => {
      destroyed = true
    })
    await c.clock.advanceUntil(() => destroyed, { stepMs: 10, maxMs: 5_000 })
    await destroying
    const seen = await reading
    expect(seen === undefined || seen.data.k === 1).toBe(true)
    expect(seen?.data).not.toEqual({})
  })

  it('a read of an idle-looking session that is destroyed while the members are asked returns nothing', async () => {
    const c = await cluster(2)
    const [a, b] = c.nodes as [SessionCluster, SessionCluster]
    const id = a.generateId()
    await a.save(id, { k: 1 }, { maxInactiveMs: 1_000 })
    await c.clock.advance(800)
    b.touch(id)
    await c.clock.advance(500)
    let settled = false
    const reading = a.load(id).finally(() => {
      settled = true
    })
    await a.destroy(id)
    await c.clock.advanceUntil(() => settled, { stepMs: 10, maxMs: 10_000 })
    expect(await reading).toBeUndefined()
  })
})
