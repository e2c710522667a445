// Found by review of the tombstone confirmation (purge only once every member holds it): each failed before its fix.
// biome-ignore-all lint/suspicious/noExplicitAny: the channel and membership here are hand-built stand-ins
import { expect, it } from 'vitest'
import type { Clock } from '../src/clock/clock.js'
import { ManualClock } from '../src/clock/manual-clock.js'
import { silentLogger } from '../src/logger.js'
import { Metrics } from '../src/metrics.js'
import { AntiEntropy } from '../src/replication/anti-entropy/anti-entropy.js'
import { SessionTable } from '../src/session/store.js'
import type { Stamp } from '../src/session/hlc.js'

type Handler = (m: unknown, ctx: { from: { host: string; port: number } }) => unknown
const s = (wall: number, node = 'n1'): Stamp => [wall, 0, node]

function node(name: string, port: number, registry: Map<number, Map<string, Handler>>, clock: Clock, peers: () => any[]) {
  const handlers = new Map<string, Handler>()
  registry.set(port, handlers)
  const address = { host: '127.0.0.1', port }
  const channel: any = {
    address,
    handleRequest: (t: string, h: Handler) => handlers.set(t, h),
    handle: (t: string, h: Handler) => handlers.set(t, h),
    request: async (to: { port: number }, message: { t: string }) => {
      await Promise.resolve()
      const h = registry.get(to.port)!.get(message.t)!
      return structuredClone(await h(structuredClone(message), { from: address }))
    },
    send: async (to: { port: number }, message: { t: string }) => {
      registry.get(to.port)!.get(message.t)!(structuredClone(message), { from: address })
    },
  }
  const table = new SessionTable()
  const membership: any = { members: peers, member: (id: string) => peers().find((p) => p.id === id), local: { id: name } }
  const ae = new AntiEntropy({
    channel, membership, table, clock, metrics: new Metrics(), logger: silentLogger,
    intervalMs: 30_000, requestTimeoutMs: 5_000, chunkBytes: 1 << 20, tombstoneRetentionMs: 600_000, maxClockSkewMs: 60_000,
    apply: (deltas) => { for (const d of deltas) table.apply(d) },
    destroy: async (ids) => { for (const id of ids) table.apply({ id, destroyed: s(clock.now(), name) }) },
    onSynced: () => {},
  })
  return { ae, table, handlers, info: { id: name, route: name, address, state: 'alive', ready: true, startedAt: 0, lastSeenAt: 0 } }
}

it('a responder whose last reply was lost does not count the requester in step: the tombstone stays, the session stays destroyed', async () => {
  const clock = new ManualClock()
  const registry = new Map<number, Map<string, Handler>>()
  let S: any, R: any
  S = node('S', 1, registry, clock, () => [R.info])
  R = node('R', 2, registry, clock, () => [S.info])
  const now = clock.now()
  const live = { id: 'x', createdAt: now - 3_600_000, lastAccessedAt: now, maxInactiveMs: { stamp: s(now - 3_600_000), value: 86_400_000 }, attrs: [['user', s(now - 3_600_000), '"bob"']] as any }
  S.table.apply(live); R.table.apply(live)
  // Destroyed on S while R was away, long enough ago to be past retention.
  S.table.apply({ id: 'x', destroyed: s(now - 700_000, 'S') })
  // R's round with S: S processes the last ae-repair (R wants x), but its reply never reaches R.
  const original = S.handlers.get('ae-repair')!
  S.handlers.set('ae-repair', async (m: unknown, ctx: any) => { await original(m, ctx); throw new Error('reply lost') })
  expect(await R.ae.sync(S.info)).toBe(false)
  expect(R.table.getLive('x')).toBeDefined() // R never got the tombstone
  const _purged = S.table.purgeTombstones(600_000, clock.now(), S.ae.confirmedThrough())
  S.handlers.set('ae-repair', original)
  expect(await R.ae.sync(S.info)).toBe(true)
  expect(S.table.getLive('x')).toBeUndefined()
})

it('a member whose wall clock runs ahead takes a fresh tombstone of a session it never held: age counts by the sender too', async () => {
  const clock = new ManualClock()
  const ahead = clock.skewed()
  const registry = new Map<number, Map<string, Handler>>()
  let S: any, R: any
  S = node('S', 1, registry, clock, () => [R.info])
  R = node('R', 2, registry, ahead, () => [S.info])
  // R's wall clock runs 20 minutes ahead: by it alone, a tombstone S made a moment ago is past the 10-minute retention.
  ahead.stepWall(20 * 60_000)
  const now = clock.now()
  S.table.apply({ id: 'x', createdAt: now - 1_000, lastAccessedAt: now - 1_000, attrs: [['user', s(now - 1_000, 'S'), '"bob"']] as any })
  S.table.apply({ id: 'x', destroyed: s(now, 'S') })
  expect(await R.ae.sync(S.info)).toBe(true)
  expect(R.table.get('x')?.destroyed).toBeDefined()
  // A tombstone past the retention by both clocks is still left out (it was purged here, or never mattered).
  S.table.apply({ id: 'y', destroyed: s(now - 700_000, 'S') })
  expect(await R.ae.sync(S.info)).toBe(true)
  expect(R.table.get('y')).toBeUndefined()
})
