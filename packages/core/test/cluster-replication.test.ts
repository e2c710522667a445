import { describe, expect, it } from 'vitest'
import type { SessionCluster } from '../src/cluster/session-cluster.js'
import { silentLogger } from '../src/logger.js'
import { clustersStoppedAfterEach, dataOf } from './support/session-cluster.js'

const cluster = clustersStoppedAfterEach()


describe('delta replication (in-memory network, manual clock)', () => {
  it('a session saved on one node is read on every other (sync)', async () => {
    const { nodes } = await cluster(3)
    const [a, b, c] = nodes as [SessionCluster, SessionCluster, SessionCluster]
    const id = a.generateId()
    expect(id).toMatch(/^[A-Za-z0-9_-]{32}\.node1$/)
    await a.save(id, { user: 'ann', items: ['x'] })
    // sync: no waiting needed once save resolved
    expect(await dataOf(b, id)).toEqual({ user: 'ann', items: ['x'] })
    expect(await dataOf(c, id)).toEqual({ user: 'ann', items: ['x'] })
    expect(c.meta(id)?.route).toBe('node1')
  })

  it('replicates only what the request changed, detecting in-place changes', async () => {
    const { nodes } = await cluster(2)
    const [a, b] = nodes as [SessionCluster, SessionCluster]
    const id = a.generateId()
    await a.save(id, { big: 'x'.repeat(10_000), items: [] })
    const loaded = (await b.load(id))!
    ;(loaded.data.items as string[]).push('apple')
    const before = b.status().counters['channel.sent.rd'] ?? 0
    await b.save(id, loaded.data, { loaded })
    expect(b.status().counters['channel.sent.rd']).toBe(before + 1)
    expect(await dataOf(a, id)).toEqual({ big: 'x'.repeat(10_000), items: ['apple'] })
  })

  it('a request that saves twice sends its change once; a later save sends only what changed since', async () => {
    const { nodes } = await cluster(2)
    const [a, b] = nodes as [SessionCluster, SessionCluster]
    const id = a.generateId()
    await a.save(id, { items: [], note: 'first' })
    const loaded = (await b.load(id))!
    ;(loaded.data.items as string[]).push('apple')
    const sent = () => b.status().counters['channel.sent.rd'] ?? 0
    const before = sent()
    await b.save(id, loaded.data, { loaded }) // the app's explicit save()
    await b.save(id, loaded.data, { loaded }) // the framework's own, unchanged
    expect(sent()).toBe(before + 1)
    // Meanwhile another node changes `note`; the request's next save carries only its own new change.
    const onA = (await a.load(id))!
    onA.data.note = 'from A'
    await a.save(id, onA.data, { loaded: onA })
    loaded.data.color = 'red'
    await b.save(id, loaded.data, { loaded })
    expect(sent()).toBe(before + 2)
    for (const node of [a, b]) expect(await dataOf(node, id)).toEqual({ items: ['apple'], note: 'from A', color: 'red' })
  })

  it('concurrent requests on two nodes changing different attributes both survive', async () => {
    const { nodes } = await cluster(3)
    const [a, b, c] = nodes as [SessionCluster, SessionCluster, SessionCluster]
    const id = a.generateId()
    await a.save(id, { n: 0 })
    const onA = (await a.load(id))!
    const onB = (await b.load(id))!
    onA.data.color = 'red'
    onB.data.size = 'L'
    await Promise.all([a.save(id, onA.data, { loaded: onA }), b.save(id, onB.data, { loaded: onB })])
    for (const node of [a, b, c]) expect(await dataOf(node, id)).toEqual({ n: 0, color: 'red', size: 'L' })
  })

  it('the same attribute written concurrently: the later stamp wins on every node', async () => {
    const { clock, nodes } = await cluster(3)
    const [a, b, c] = nodes as [SessionCluster, SessionCluster, SessionCluster]
    const id = a.generateId()
    await a.save(id, { v: 0 })
    const onA = (await a.load(id))!
    const onB = (await b.load(id))!
    onA.data.v = 'from A'
    await a.save(id, onA.data, { loaded: onA })
    await clock.advance(5)
    onB.data.v = 'from B'
    await b.save(id, onB.data, { loaded: onB })
    for (const node of [a, b, c]) expect((await dataOf(node, id))?.v).toBe('from B')
  })

  it('sync: a member that does not acknowledge within ackTimeoutMs is excluded once; with no copy elsewhere the save fails (503) instead of being acknowledged on one node', async () => {
    const c = await cluster(2, { ackTimeoutMs: 2_000 })
    const [a] = c.nodes as [SessionCluster]
    // Frames still leave but never arrive (a hung process behind an open connection).
    c.network.setFaults({ dropRate: 1 })
    let outcome: unknown
    const started = c.clock.now()
    void a.save(a.generateId(), { n: 1 }).then(
      () => (outcome = 'saved'),
      (error: Error) => (outcome = error),
    )
    await c.clock.advanceUntil(() => outcome !== undefined, { stepMs: 100 })
    // Waited once, for exactly the ack timeout (its read lease had run out by then)...
    expect(c.clock.now() - started).toBeGreaterThanOrEqual(2_000)
    expect(c.clock.now() - started).toBeLessThanOrEqual(2_100)
    // ...and the member holds no copy: refused rather than acknowledged on this node alone.
    expect(outcome).toMatchObject({ name: 'StaleReplicaError', statusCode: 503 })
    expect(a.status().counters['replication.ack-misses']).toBe(1)
    expect(a.status().counters['replication.commit.unreplicated']).toBe(1)
    expect(a.status().members.map((m) => m.state)).toEqual(['suspect'])
    // Once failure detection removed it (and the grace period passed), the node serves on its own.
    await c.clock.advanceUntil(() => a.status().members.length === 0, { stepMs: 100 })
    await c.clock.advance(10_000)
    let saved = false
    void a.save(a.generateId(), { n: 2 }).then(() => (saved = true))
    expect(await c.clock.advanceUntil(() => saved, { stepMs: 100 })).toBe(true)
  })

  it('destroy replicates and is final', async () => {
    const { nodes } = await cluster(3)
    const [a, b, c] = nodes as [SessionCluster, SessionCluster, SessionCluster]
    const id = a.generateId()
    await a.save(id, { user: 'ann' })
    const stale = (await c.load(id))!
    await b.destroy(id)
    expect(await a.load(id)).toBeUndefined()
    expect(await c.load(id)).toBeUndefined()
    stale.data.user = 'mallory'
    await c.save(id, stale.data, { loaded: stale })
    expect(await a.load(id)).toBeUndefined()
    expect(a.status().tombstones).toBe(1)
  })

  it('events say whether a change was made here or replicated', async () => {
    const { nodes } = await cluster(2)
    const [a, b] = nodes as [SessionCluster, SessionCluster]
    const seen: string[] = []
    a.on('created', (e) => seen.push(`a created ${e.replicated}`))
    b.on('created', (e) => seen.push(`b created ${e.replicated}`))
    b.on('attributeChanged', (e) => seen.push(`b ${e.name} ${e.replicated}`))
    await a.save(a.generateId(), { cart: [1] })
    expect(seen).toEqual(['a created false', 'b created true', 'b cart true'])
  })

  it('a known random part resolves whatever its route; unknown and malformed ids never do', async () => {
    const { nodes } = await cluster(3)
    const [a, b, c] = nodes as [SessionCluster, SessionCluster, SessionCluster]
    const id = a.generateId()
    await a.save(id, { k: 1 })
    const base = id.slice(0, id.lastIndexOf('.'))
    expect(await b.load('garbage')).toBeUndefined()
    expect(await b.load(`${b.generateId().slice(0, 32)}.node1`)).toBeUndefined()
    // two nodes rebind concurrently (the owner died): one route wins, the loser's cookie still resolves everywhere
    const onB = (await b.load(id))!
    const onC = (await c.load(id))!
    await Promise.all([b.save(`${base}.node2`, onB.data, { loaded: onB }), c.save(`${base}.node3`, onC.data, { loaded: onC })])
    const winner = a.meta(id)!.route
    expect(['node2', 'node3']).toContain(winner)
    for (const node of [a, b, c]) {
      expect(node.meta(id)?.route).toBe(winner)
      for (const route of ['node1', 'node2', 'node3']) expect((await node.load(`${base}.${route}`))?.data).toEqual({ k: 1 })
      // and the answer tells the cookie to move to the winning route
      expect(node.routeFor(`${base}.node2`, 'failover')).toBe(`${base}.${winner}`)
    }
  })

  it('routeFor rebinds only when the route’s node is gone (failover), always, or never', async () => {
    const { clock, nodes } = await cluster(3)
    const [a, b] = nodes as [SessionCluster, SessionCluster]
    const id = a.generateId()
    await a.save(id, { k: 1 })
    const base = id.slice(0, id.lastIndexOf('.'))
    expect(b.routeFor(id, 'failover')).toBe(id)
    expect(b.routeFor(id, 'always')).toBe(`${base}.node2`)
    await a.stop()
    await clock.advanceUntil(() => !b.isRouteLive('node1'))
    expect(b.routeFor(id, 'failover')).toBe(`${base}.node2`)
    expect(b.routeFor(id, false)).toBe(id)
  })

  it('a joining node pulls every session (in chunks) before it is ready', async () => {
    const c = await cluster(2, { stateTransferChunkBytes: 4_096 })
    const [a] = c.nodes as [SessionCluster]
    const ids: string[] = []
    for (let i = 0; i < 500; i++) {
      const id = a.generateId()
      ids.push(id)
      await a.save(id, { i, pad: 'p'.repeat(100) })
    }
    const [joiner] = (await c.add(1)) as [SessionCluster]
    expect(joiner.status().stateTransfer).toBe('complete')
    expect(joiner.size).toBe(500)
    expect((await joiner.load(ids[123]!))?.data).toEqual({ i: 123, pad: 'p'.repeat(100) })
    const chunks = c.nodes.slice(0, 2).map((n) => n.status().counters['state-transfer.chunks-sent'] ?? 0)
    expect(chunks[0]! + chunks[1]!).toBeGreaterThan(5) // from one source, in many bounded chunks
  })

  it('a joiner whose source goes silent mid-transfer continues from another member and gets everything', async () => {
    const c = await cluster(2, { stateTransferChunkBytes: 2_048 })
    const [a, b] = c.nodes as [SessionCluster, SessionCluster]
    for (let i = 0; i < 600; i++) await a.save(a.generateId(), { i, pad: 'p'.repeat(100) })
    await c.clock.advanceUntil(() => b.size === 600)
    const served = (n: SessionCluster) => n.status().counters['state-transfer.chunks-sent'] ?? 0
    const before = [served(a), served(b)]
    // Whichever member the joiner asks, cut it off once it has served a few of the ~40 chunks.
    let source: SessionCluster | undefined
    const cutOffSource = () => {
      source = [a, b].find((n, i) => served(n) - before[i]! >= 3)
      if (!source) return void setImmediate(cutOffSource)
      const other = source === a ? b : a
      c.network.partition([source.local.address], [other.local.address, { host: '127.0.0.1', port: 6002 }])
    }
    setImmediate(cutOffSource)
    const [joiner] = (await c.add(1)) as [SessionCluster]
    const other = source === a ? b : a
    expect(source).toBeDefined()
    expect(joiner.status().counters['state-transfer.source-failures']).toBeGreaterThanOrEqual(1)
    expect(served(other)).toBeGreaterThan(before[source === a ? 1 : 0]!)
    expect(joiner.status().stateTransfer).toBe('complete')
    expect(joiner.size).toBe(600)
  })

  it('a transfer that cannot finish within stateTransferTimeoutMs is logged and counted, and the node serves anyway', async () => {
    const errors: string[] = []
    const logger = { ...silentLogger, error: (msg: string) => void errors.push(msg) }
    const c = await cluster(1, { stateTransferChunkBytes: 2_048, stateTransferTimeoutMs: 3_000, logger })
    const [a] = c.nodes as [SessionCluster]
    for (let i = 0; i < 600; i++) await a.save(a.generateId(), { i, pad: 'p'.repeat(100) })
    // Every frame now takes 150 ms: the ~40 chunks need longer than the joiner's 3 s.
    c.network.setFaults({ delayMs: [150, 150] })
    const [joiner] = (await c.add(1)) as [SessionCluster]
    expect(joiner.ready).toBe(true)
    expect(joiner.status().stateTransfer).toBe('timed-out')
    expect(joiner.status().counters['state-transfer.timeouts']).toBe(1)
    expect(errors).toContain('state transfer did not complete in time; serving without the full state')
    expect(a.status().counters['state-transfer.chunks-sent']).toBeGreaterThan(0)
    expect(joiner.size).toBeGreaterThan(0)
    // Serving: it takes new sessions, and live replication reaches it.
    const fresh = a.generateId()
    const before = joiner.size
    let saved = false
    void a.save(fresh, { late: true }).then(() => (saved = true))
    // A sync save resolves once the joiner acknowledged it: the joiner is a full member.
    await c.clock.advanceUntil(() => saved)
    expect(joiner.size).toBeGreaterThanOrEqual(before + 1)
    // (Read through the network: anti-entropy with `a` has not completed, so the joiner fetches `a`'s copy first.)
    expect((await c.run(joiner.load(fresh)))?.data).toEqual({ late: true })
    // What the transfer did not bring, anti-entropy does.
    expect(await c.clock.advanceUntil(() => joiner.size === 601, { stepMs: 100 })).toBe(true)
  })

  it('a node restarted with empty memory receives the sessions before it reports ready', async () => {
    const c = await cluster(3)
    const [a] = c.nodes as [SessionCluster]
    const id = a.generateId()
    await a.save(id, { items: ['a', 'b'] })
    await c.nodes[1]!.stop()
    const restarted = await c.restart(1)
    expect(restarted.ready).toBe(true)
    expect((await restarted.load(id))?.data).toEqual({ items: ['a', 'b'] })
  })

  it('after a partition heals, each side pulls what the other missed (no lasting split)', async () => {
    const { clock, network, nodes } = await cluster(3)
    const [a, b, c] = nodes as [SessionCluster, SessionCluster, SessionCluster]
    const shared = a.generateId()
    await a.save(shared, { cart: [] })
    network.partition([a.local.address, b.local.address], [c.local.address])
    await clock.advanceUntil(() => a.status().members.length === 1 && c.status().members.length === 0)
    // Right after the removal, reads still check with the member that was lost (it may only be cut off): they fail.
    const early = a.load(shared)
    const failed = expect(early).rejects.toMatchObject({ name: 'StaleReplicaError' })
    await clock.advance(2_000)
    await failed
    // Once that grace period is over, both sides serve: A changes the shared session and creates one; C too.
    await clock.advance(5_000)
    const run = async <T>(promise: Promise<T>) => {
      let done = false
      void promise.finally(() => (done = true)).catch(() => {})
      await clock.advanceUntil(() => done, { stepMs: 50 })
      return promise
    }
    const loaded = (await run(a.load(shared)))!
    ;(loaded.data.cart as string[]).push('during-partition')
    await run(a.save(shared, loaded.data, { loaded }))
    const onA = a.generateId()
    await run(a.save(onA, { side: 'a' }))
    const onC = c.generateId()
    await run(c.save(onC, { side: 'c' }))
    network.heal()
    const healed = await clock.advanceUntil(() => nodes.every((n) => n.size === 3 && n.status().members.length === 2), { stepMs: 100 })
    expect(healed).toBe(true)
    for (const node of [a, b, c]) {
      expect((await node.load(shared))?.data).toEqual({ cart: ['during-partition'] })
      expect((await node.load(onA))?.data).toEqual({ side: 'a' })
      expect((await node.load(onC))?.data).toEqual({ side: 'c' })
    }
    // Anti-entropy found and repaired the differences (both ways).
    expect(c.status().counters['anti-entropy.repairs']).toBeGreaterThanOrEqual(1)
  })

  it('saves that change nothing still count as use: no node expires the session (rolling, resave)', async () => {
    const { clock, nodes } = await cluster(3, { accessFlushIntervalMs: 1_000, expiryIntervalMs: 1_000 })
    const [a, b, c] = nodes as [SessionCluster, SessionCluster, SessionCluster]
    const id = a.generateId()
    await a.save(id, { k: 1 }, { maxInactiveMs: 60_000 })
    for (let t = 0; t < 200; t += 10) {
      const loaded = (await a.load(id))!
      await a.save(id, loaded.data, { loaded, maxInactiveMs: 60_000 })
      await clock.advance(10_000)
    }
    for (const node of [a, b, c]) expect(await node.load(id)).toBeDefined()
  })

  it('three nodes starting at once all become ready', async () => {
    const c = await cluster(3)
    expect(c.nodes.every((n) => n.ready)).toBe(true)
    expect(c.nodes.map((n) => n.status().stateTransfer).sort()).not.toContain('timed-out')
  })

  it('access times replicate coalesced, and idle sessions expire everywhere', async () => {
    const { clock, nodes } = await cluster(3, { accessFlushIntervalMs: 1_000, expiryIntervalMs: 1_000 })
    const [a, b, c] = nodes as [SessionCluster, SessionCluster, SessionCluster]
    const id = a.generateId()
    await a.save(id, { k: 1 }, { maxInactiveMs: 60_000 })
    const expired: string[] = []
    for (const [name, n] of [['a', a], ['b', b], ['c', c]] as const) n.on('expired', (e) => expired.push(`${name} ${e.replicated}`))
    // keep it alive through node C only, for 3 minutes: nobody may expire it
    const sentBefore = c.status().counters['channel.sent.access'] ?? 0
    for (let t = 0; t < 180; t += 10) {
      c.touch(id)
      await clock.advance(10_000)
    }
    expect(await a.load(id)).toBeDefined()
    expect(expired).toEqual([])
    // 18 touches, a handful of flush messages (one per flush interval with activity), not one per touch per peer
    expect((c.status().counters['channel.sent.access'] ?? 0) - sentBefore).toBeLessThanOrEqual(18 * 2)
    // then idle: it expires on all three, once
    await clock.advanceUntil(() => expired.length === 3, { stepMs: 1_000, maxMs: 120_000 })
    expect(expired.sort()).toEqual(['a false', 'b true', 'c true'])
    expect(await b.load(id)).toBeUndefined()
  })
})
