import { describe, expect, it } from 'vitest'
import type { SessionCluster } from '../src/cluster/session-cluster.js'
import { HybridClock, MAX_STAMP_COUNTER } from '../src/session/hlc.js'
import { readStamp } from '../src/session/wire-checks.js'
import { clustersStoppedAfterEach, dataOf } from './support/session-cluster.js'

// One test per fault that lost or hid data before the replication streams, leases and anti-entropy.

const cluster = clustersStoppedAfterEach()


describe('faults that lost or hid data before', () => {
  it('a reset with a change in flight: the change is resent on the new connection, not lost', async () => {
    const c = await cluster(2, { faults: { delayMs: [20, 20] } })
    const [a, b] = c.nodes as [SessionCluster, SessionCluster]
    const id = a.generateId()
    await c.run(a.save(id, { items: ['x'] }))
    const loaded = (await c.run(a.load(id)))!
    ;(loaded.data.items as string[]).push('y')
    const saving = c.run(a.save(id, loaded.data, { loaded }))
    // The batch is on the wire (20 ms of latency): reset the connection under it.
    await c.clock.advance(5)
    c.network.reset(a.local.address, b.local.address)
    await saving
    expect(await c.run(dataOf(b, id))).toEqual({ items: ['x', 'y'] })
    expect(a.status().counters['replication.commit.unreplicated'] ?? 0).toBe(0)
  })

  it('one-way loss: the member is excluded after one ack timeout, once; later saves do not wait for it', async () => {
    const c = await cluster(3, { ackTimeoutMs: 1_000, heartbeatIntervalMs: 200, suspectTimeoutMs: 1_200, verifyTimeoutMs: 400 })
    const [a, , third] = c.nodes as [SessionCluster, SessionCluster, SessionCluster]
    // a's frames to the third node are lost; the third node's heartbeats still reach a.
    c.network.cut(a.local.address, third.local.address)
    const first = c.clock.monotonic()
    await c.run(a.save(a.generateId(), { n: 1 }))
    expect(c.clock.monotonic() - first).toBeGreaterThanOrEqual(1_000)
    for (let i = 0; i < 5; i++) {
      const start = c.clock.monotonic()
      await c.run(a.save(a.generateId(), { n: i }))
      expect(c.clock.monotonic() - start).toBeLessThan(100)
    }
    // Heartbeats from it do not keep it a member: it never answers a direct check over this path.
    expect(await c.clock.advanceUntil(() => !a.status().members.some((m) => m.route === 'node3'), { stepMs: 100 })).toBe(true)
  })

  it('a clock step of +5 minutes on one node: a later write on another node still replaces its value', async () => {
    const c = await cluster(2)
    const [a, b] = c.nodes as [SessionCluster, SessionCluster]
    const id = a.generateId()
    c.wallClocks[1]!.stepWall(5 * 60_000)
    await c.run(b.save(id, { color: 'red' }))
    const loaded = (await c.run(a.load(id)))!
    loaded.data.color = 'blue'
    await c.run(a.save(id, loaded.data, { loaded }))
    expect((await c.run(dataOf(a, id)))?.color).toBe('blue')
    expect((await c.run(dataOf(b, id)))?.color).toBe('blue')
  })

  it('a stamp with counter 2^53-1 from a peer: this node keeps producing stamps every peer accepts', () => {
    const clock = { now: () => 1_000, monotonic: () => 0, setTimeout: () => ({ cancel() {} }), setInterval: () => ({ cancel() {} }) }
    const hlc = new HybridClock('n1', clock)
    hlc.observe([1_000, Number.MAX_SAFE_INTEGER, 'bad'])
    for (let i = 0; i < 3; i++) {
      const stamp = hlc.now()
      expect(stamp[1]).toBeLessThanOrEqual(MAX_STAMP_COUNTER)
      expect(() => readStamp(stamp)).not.toThrow()
    }
    // The absurd stamp itself is refused on the wire.
    expect(() => readStamp([1_000, Number.MAX_SAFE_INTEGER, 'bad'])).toThrow()
    // A write replacing a value stamped at the counter's limit still orders after it.
    const after = hlc.after([5_000, MAX_STAMP_COUNTER, 'n2'])
    expect(after).toEqual([5_001, 0, 'n1'])
  })

  it('a logout during a partition longer than the tombstone retention is not undone when it heals', async () => {
    const c = await cluster(3, { tombstoneRetentionMs: 20_000, heartbeatIntervalMs: 200, suspectTimeoutMs: 1_200, verifyTimeoutMs: 400, antiEntropyIntervalMs: 2_000 })
    const [a, b, third] = c.nodes as [SessionCluster, SessionCluster, SessionCluster]
    const id = a.generateId()
    await c.run(a.save(id, { user: 'alice' }))
    expect(await c.run(dataOf(third, id))).toEqual({ user: 'alice' })
    c.network.partition([a.local.address, b.local.address], [third.local.address])
    await c.clock.advance(10_000) // each side removes the other and serves on its own
    await c.run(a.destroy(id))
    await c.clock.advance(40_000) // twice the retention: yet the tombstone is kept while node3 may hold the session
    expect(a.status().counters['expiry.tombstones-purged'] ?? 0).toBe(0)
    expect(a.status().tombstones).toBe(1)
    c.network.heal()
    await c.clock.advance(20_000) // rejoin and anti-entropy: the tombstone reaches node3
    for (const node of [a, b, third]) expect(await c.run(dataOf(node, id))).toBeUndefined()
    // Now every member holds it: the next sweeps purge it everywhere (the tombstones do not pile up).
    await c.clock.advance(60_000)
    for (const node of [a, b, third]) expect(node.status().tombstones).toBe(0)
    for (const node of [a, b, third]) expect(await c.run(dataOf(node, id))).toBeUndefined()
    expect(third.status().members.length).toBe(2)
  })

  it('a logout on one side of a two-node split longer than the retention stays final (each side alone)', async () => {
    const c = await cluster(2, { tombstoneRetentionMs: 20_000, heartbeatIntervalMs: 200, suspectTimeoutMs: 1_200, verifyTimeoutMs: 400, antiEntropyIntervalMs: 2_000 })
    const [a, b] = c.nodes as [SessionCluster, SessionCluster]
    const ids = [a.generateId(), b.generateId()]
    for (const id of ids) await c.run(a.save(id, { user: id }))
    c.network.partition([a.local.address], [b.local.address])
    await c.clock.advance(10_000)
    await c.run(a.destroy(ids[0]!))
    await c.run(b.destroy(ids[1]!))
    await c.clock.advance(120_000)
    c.network.heal()
    await c.clock.advance(20_000)
    for (const node of [a, b]) for (const id of ids) expect(await c.run(dataOf(node, id))).toBeUndefined()
  })

  it('a restarted node whose peers answer only after 1.5 s waits for them and starts with their sessions', async () => {
    const c = await cluster(2)
    const [a] = c.nodes as [SessionCluster]
    const id = a.generateId()
    await c.run(a.save(id, { items: ['a'] }))
    await c.kill(1)
    c.network.setFaults({ delayMs: [1_500, 1_500] })
    const restarted = await c.restart(1)
    expect(restarted.status().stateTransfer).toBe('complete')
    expect(restarted.size).toBe(1)
    c.network.setFaults({ delayMs: [0, 0] })
    await c.clock.advance(5_000) // frames still on the slow wire arrive
    expect(await c.run(dataOf(restarted, id))).toEqual({ items: ['a'] })
  })

  it('the owner killed: its route is not live from the first request after its port refuses', async () => {
    const c = await cluster(3)
    const [a, b] = c.nodes as [SessionCluster, SessionCluster]
    const id = a.generateId()
    await c.run(a.save(id, { k: 1 }))
    await c.kill(0)
    // The next frame b sends to it is refused: b removes it at once, without waiting for suspicion.
    await c.clock.advance(600) // one heartbeat
    expect(b.isRouteLive('node1')).toBe(false)
    const base = id.slice(0, id.lastIndexOf('.'))
    expect(b.routeFor(id, 'failover')).toBe(`${base}.node2`)
  })
})
