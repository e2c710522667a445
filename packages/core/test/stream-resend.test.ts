// A batch a member never acknowledged is sent again after its connection comes back, perhaps long after it was
// committed. Changes to a session destroyed since must not go with it: the member may have purged the tombstone by
// then (every member held it), and an old change would bring the session back there.
// biome-ignore-all lint/suspicious/noExplicitAny: the channel and membership are hand-built stand-ins around the real streams
import { expect, it } from 'vitest'
import { ManualClock } from '../src/clock/manual-clock.js'
import { cborCodec } from '../src/codec/cbor-codec.js'
import { silentLogger } from '../src/logger.js'
import { Metrics } from '../src/metrics.js'
import { resendCheckOn } from '../src/replication/strategy-parts.js'
import { ReplicationStreams } from '../src/replication/stream/replication-streams.js'
import type { Delta } from '../src/session/record.js'
import { SessionTable } from '../src/session/store.js'
import type { Stamp } from '../src/session/hlc.js'

const codec = cborCodec()
const stamp = (wall: number): Stamp => [wall, 0, 'a']
const peer = { id: 'b', route: 'b', address: { host: '127.0.0.1', port: 2 }, state: 'alive', ready: true, startedAt: 0, lastSeenAt: 0 }

/** Our streams to one member whose frames we capture; `linkBounce` drops and restores the connection. */
function sender() {
  const clock = new ManualClock()
  const table = new SessionTable()
  const sent: any[] = []
  const transportListeners = new Map<string, (peer: unknown) => void>()
  const channel: any = {
    handle: () => {},
    send: async (_to: unknown, message: unknown) => sent.push(message),
    transport: {
      on: (event: string, listener: (peer: unknown) => void) => {
        transportListeners.set(event, listener)
        return () => {}
      },
      flush: () => {},
    },
  }
  const membership: any = { local: { id: 'a' }, members: () => [peer], member: () => peer, on: () => () => {}, suspect: () => {} }
  const metrics = new Metrics()
  const streams = new ReplicationStreams({
    channel, membership, codec, clock, metrics, logger: silentLogger,
    ackTimeoutMs: 1_000, leaseMs: 500, maxUnackedBytes: 1 << 20, maxBatchBytes: 1 << 16,
    resendCheck: resendCheckOn(table),
    apply: () => {},
    onMemberGone: () => {},
  })
  streams.start()
  const flushed = () => new Promise((resolve) => setImmediate(resolve))
  const commit = async (deltas: Delta[]) => {
    for (const delta of deltas) table.apply(delta)
    void streams.publish(deltas)
    await flushed()
  }
  const linkBounce = () => {
    transportListeners.get('peerDown')!(peer.address)
    sent.length = 0
    transportListeners.get('peerUp')!(peer.address)
  }
  const resentIds = () => sent.filter((m) => m.t === 'rd').flatMap((m) => (codec.decode(m.d) as unknown[][]).map((w) => w[0]))
  return { table, streams, commit, flushed, linkBounce, resentIds, sent, metrics, stop: () => streams.stop() }
}

const created = (id: string, at: number): Delta => ({ id, createdAt: at, lastAccessedAt: at, attrs: [['user', stamp(at), '"bob"']] as any })
const changed = (id: string, at: number): Delta => ({ id, lastAccessedAt: at, attrs: [['cart', stamp(at), '"3 items"']] as any })

it('resends the changes to live sessions as they were: the very bytes first sent', async () => {
  const a = sender()
  await a.commit([created('x', 1_000), created('y', 1_000)])
  await a.commit([changed('x', 2_000)])
  // A session that has nothing to do with these batches was destroyed meanwhile: they are checked, and go unchanged.
  await a.commit([created('w', 1_000)])
  a.table.apply({ id: 'w', destroyed: stamp(3_000) })
  const first = a.sent.filter((m) => m.t === 'rd').map((m) => m.d)
  a.linkBounce()
  expect(a.resentIds()).toEqual(['x', 'y', 'x'])
  const again = a.sent.filter((m) => m.t === 'rd').map((m) => m.d)
  expect(again[0]).toBe(first[0])
  expect(again[1]).toBe(first[1])
  a.stop()
})

it('leaves out changes to a session destroyed here since, and to one no longer held here at all', async () => {
  const a = sender()
  await a.commit([created('x', 1_000), created('y', 1_000), created('z', 1_000)])
  await a.commit([changed('x', 2_000), changed('z', 2_000)])
  // z's tombstone has been purged since; x was destroyed (by a member, its tombstone reached us some other way).
  a.table.apply({ id: 'z', destroyed: stamp(3_000) })
  a.table.purgeTombstones(0, 10_000)
  a.table.apply({ id: 'x', destroyed: stamp(3_000) })
  expect(a.table.get('z')).toBeUndefined()
  expect(a.table.get('x')?.destroyed).toBeDefined()
  a.linkBounce()
  // Still one batch per number (the member acknowledges them in order), only emptier.
  expect(a.sent.filter((m) => m.t === 'rd').map((m) => m.s)).toEqual([1, 2])
  expect(a.resentIds()).toEqual(['y'])
  expect(a.metrics.snapshot()['replication.resend-dropped']).toBe(4)
  a.stop()
})

it('still resends a destruction while the tombstone is held here', async () => {
  const a = sender()
  await a.commit([created('x', 1_000)])
  await a.commit([{ id: 'x', destroyed: stamp(2_000) }])
  a.linkBounce()
  expect(a.resentIds()).toEqual(['x'])
  const [first, second] = a.sent.filter((m) => m.t === 'rd').map((m) => codec.decode(m.d) as unknown[][])
  expect(first).toEqual([])
  expect(second![0]![6]).toEqual(stamp(2_000))
  a.stop()
})

it('checks a batch whose session was destroyed here between the commit and the batch leaving', async () => {
  const a = sender()
  await a.commit([created('x', 1_000)])
  a.table.apply(changed('x', 2_000))
  void a.streams.publish([changed('x', 2_000)])
  // The destruction arrives from a member in the same turn, before the batch is encoded. Nothing stops being live
  // here afterwards (the tombstone is still held), yet the member may have purged it by the time of the resend.
  a.table.apply({ id: 'x', destroyed: stamp(2_500) })
  await a.flushed()
  a.linkBounce()
  expect(a.resentIds()).toEqual([])
  a.stop()
})
