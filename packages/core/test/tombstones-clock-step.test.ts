// A tombstone is kept `tombstoneRetentionMs` after the destruction by the wall clock, which dates the destruction.
// A node whose wall clock was stepped forward would find every tombstone old at once and forget it, and a change
// still on its way from a member that missed the destruction (it was cut off from the destroyer) would then bring
// the session back there. So a tombstone also stays that long by the node's monotonic clock.
import { describe, expect, it } from 'vitest'
import { clustersStoppedAfterEach } from './support/session-cluster.js'

const cluster = clustersStoppedAfterEach()

describe.each(['delta', 'backup'] as const)('%s: a node whose wall clock jumps forward', (manager) => {
  it('keeps a tombstone for the retention by its own monotonic clock, then forgets it', async () => {
    const c = await cluster(2, { manager, ...(manager === 'backup' ? { backups: 1 } : {}), tombstoneRetentionMs: 20_000, expiryIntervalMs: 1_000 })
    const [a, b] = c.nodes as [NonNullable<(typeof c.nodes)[0]>, NonNullable<(typeof c.nodes)[0]>]
    const id = a.generateId()
    await c.run(a.save(id, { n: 1 }))
    await c.run(a.destroy(id))
    await c.clock.advance(2_000)
    expect(b.status().tombstones).toBe(1)
    c.wallClocks[1]!.stepWall(5 * 60_000)
    await c.clock.advance(10_000)
    expect(b.status().tombstones).toBe(1)
    await c.clock.advance(12_000)
    expect(b.status().tombstones).toBe(0)
    expect(await c.run(b.load(id))).toBeUndefined()
  })
})
