// Async mode's version tokens (read-your-writes and monotonic reads for a client's own requests): on the in-memory
// network with a manual clock, replication held back by delays, and tokens good, stale, forged or absurd.
import { afterEach, describe, expect, it } from 'vitest'
import { createSessionCluster } from '../src/cluster/create-session-cluster.js'
import type { ReplicatedSessionCluster } from '../src/cluster/replicated-session-cluster.js'
import type { SessionCluster } from '../src/cluster/session-cluster.js'
import { silentLogger } from '../src/logger.js'
import { addressKey } from '../src/member.js'
import { eventually } from './fixtures/node-process.mjs'
import { memorySessionClusters } from './support/session-cluster.js'

let cleanup: (() => Promise<void>) | undefined
afterEach(async () => {
  await cleanup?.()
  cleanup = undefined
})

async function asyncPair(tokenWaitMs = 50) {
  const c = memorySessionClusters({ replication: 'async', tokenWaitMs })
  cleanup = c.stopAll
  const [a, b] = (await c.add(2)) as [SessionCluster, SessionCluster]
  return { c, a, b }
}

describe('version tokens (async replication)', () => {
  it('without a token a read elsewhere can be stale; with it, the read waits for the change on its way', async () => {
    const { c, a, b } = await asyncPair(200)
    const id = a.generateId()
    await c.run(a.save(id, { cart: ['x'] }))
    await c.clock.advance(1_000)
    c.network.setFaults({ delayMs: [100, 100] })
    const loaded = (await c.run(a.load(id)))!
    await a.save(id, { cart: ['x', 'y'] }, { loaded }) // async: resolves before the change reaches b
    const token = a.versionToken(id)!
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[0-9a-z]+\.[0-9a-z]+$/)
    expect((await b.load(id))?.data).toEqual({ cart: ['x'] }) // stale, as async always was
    const read = await c.run(b.load(id, { token }))
    expect(read?.data).toEqual({ cart: ['x', 'y'] })
    expect(b.status().counters['tokens.behind']).toBe(1)
    expect(b.status().counters['tokens.fetches'] ?? 0).toBe(0) // it arrived within tokenWaitMs
  })

  it('when the change does not arrive within tokenWaitMs, the session is fetched from the node that wrote it', async () => {
    const { c, a, b } = await asyncPair(50)
    const id = a.generateId()
    await c.run(a.save(id, { n: 1 }))
    await c.clock.advance(1_000)
    const loaded = (await c.run(a.load(id)))!
    // Every frame now takes 300 ms: the change is still on its way when b gives up waiting (50 ms) and asks a.
    c.network.setFaults({ delayMs: [300, 300] })
    await a.save(id, { n: 2 }, { loaded })
    const token = a.versionToken(id)!
    const read = await c.run(b.load(id, { token }))
    expect(read?.data).toEqual({ n: 2 })
    expect(b.status().counters['tokens.fetches']).toBe(1)
    expect(b.status().counters['tokens.still-behind'] ?? 0).toBe(0)
  })

  it('a token this node already covers costs nothing; a malformed one is ignored and counted', async () => {
    const { c, a, b } = await asyncPair()
    const id = a.generateId()
    await c.run(a.save(id, { n: 1 }))
    await c.clock.advance(1_000)
    const token = a.versionToken(id)!
    expect((await b.load(id, { token }))?.data).toEqual({ n: 1 }) // no clock advance needed: served at once
    for (const bad of ['', 'x'.repeat(600), 'a.b', 'node.1.2.3', 'bad node!.1.1', Array(9).fill('n.1.1').join('~')]) {
      expect((await b.load(id, { token: bad }))?.data).toEqual({ n: 1 })
    }
    expect(b.status().counters['tokens.malformed']).toBe(6)
    expect(b.status().counters['tokens.behind'] ?? 0).toBe(0)
  })

  it('a forged or absurd token costs at most one bounded fetch per read and never breaks it', async () => {
    const { c, a, b } = await asyncPair()
    const id = a.generateId()
    await c.run(a.save(id, { n: 1 }))
    await c.clock.advance(1_000)
    const absurd = `${a.local.id}.${(2 ** 50).toString(36)}.0~unknownNode.zzzz.0`
    const read = await c.run(b.load(id, { token: absurd }))
    expect(read?.data).toEqual({ n: 1 })
    expect(b.status().counters['tokens.fetches']).toBe(1)
    expect(b.status().counters['tokens.still-behind']).toBe(1)
  })

  it('in sync mode tokens are neither issued nor needed', async () => {
    const c = memorySessionClusters()
    cleanup = c.stopAll
    const [a, b] = (await c.add(2)) as [SessionCluster, SessionCluster]
    const id = a.generateId()
    await c.run(a.save(id, { n: 1 }))
    expect(a.versionToken(id)).toBeUndefined()
    expect((await c.run(b.load(id, { token: 'whatever.1.1' })))?.data).toEqual({ n: 1 })
    expect(b.status().counters['tokens.malformed'] ?? 0).toBe(0)
  })
})

describe('async commits leave before their answer (real TCP)', () => {
  // The client's next request may go to another node at once (round-robin): the change must already be on the
  // wire when the node that made it answers, or the other node is behind and has to wait for it.
  it.each(['delta', 'backup'] as const)('%s: the batch of an async save is written to the socket before save() resolves to its caller', async (manager) => {
    const a = createSessionCluster({ route: 'a', host: '127.0.0.1', port: 0, replication: 'async', manager, logger: silentLogger })
    cleanup = async () => {
      await b?.stop()
      await a.stop()
    }
    await a.start()
    const b: SessionCluster | undefined = createSessionCluster({
      route: 'b',
      host: '127.0.0.1',
      port: 0,
      replication: 'async',
      manager,
      members: [addressKey(a.local.address)],
      logger: silentLogger,
    })
    await b.start()
    expect(await eventually(() => a.status().members.length === 1 && b.status().members.length === 1)).toBe(true)
    const id = a.generateId()
    await a.save(id, { n: 0 })
    expect(await eventually(async () => (await b.load(id)) !== undefined)).toBe(true)
    for (let n = 1; n <= 5; n++) {
      const sent = a.status().counters['transport.frames.sent'] ?? 0
      await a.save(id, { n })
      // No event-loop turn has passed since: the frame went out from the commit itself, not a later check phase.
      expect(a.status().counters['transport.frames.sent']).toBeGreaterThan(sent)
    }
    expect(await eventually(async () => (await b.load(id))?.data.n === 5)).toBe(true)
  })
})


describe('a copy that lacks its creation (async replication)', () => {
  it('a change made elsewhere that overtakes the creation leaves no half session: the reader fetches the whole one', async () => {
    const c = memorySessionClusters({ replication: 'async' })
    cleanup = c.stopAll
    const [a, b, third] = (await c.add(3)) as [SessionCluster, SessionCluster, SessionCluster]
    // a's changes stop reaching b, so its creation of the session never does; the third node gets it.
    c.network.cut(a.local.address, b.local.address)
    const id = a.generateId()
    await c.run(a.save(id, { cookie: { path: '/', httpOnly: true, originalMaxAge: null }, cart: ['x'] }))
    await c.clock.advance(100)
    const loaded = (await c.run(third.load(id)))!
    await c.run(third.save(id, { ...loaded.data, cart: ['x', 'y'] }, { loaded }))
    await c.clock.advance(100)
    // b holds the third node's change alone: the cart, no cookie, no creation.
    expect((b as ReplicatedSessionCluster).peek(id)).toEqual({ cart: ['x', 'y'] })
    const read = await c.run(b.load(id))
    expect(read?.data).toEqual({ cookie: { path: '/', httpOnly: true, originalMaxAge: null }, cart: ['x', 'y'] })
    expect(b.status().counters['sessions.incomplete-fetches']).toBe(1)
    // Complete now: the next read asks nobody.
    await c.run(b.load(id))
    expect(b.status().counters['sessions.incomplete-fetches']).toBe(1)
  })
})
