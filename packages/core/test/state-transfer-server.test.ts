import { describe, expect, it } from 'vitest'
import { ManualClock } from '../src/clock/manual-clock.js'
import { Metrics } from '../src/metrics.js'
import { PeerBusyError } from '../src/errors.js'
import { silentLogger } from '../src/logger.js'
import { PeerRequestLimits } from '../src/replication/peer-request-limits.js'
import { estimateRecordBytes, StateTransferServer } from '../src/replication/state-transfer.js'
import { STALLED_AFTER_MS, STATE_TRANSFER_LIMITS, type StateTransferLimits } from '../src/replication/state-transfer-limits.js'
import { SessionTable } from '../src/session/store.js'

describe('state transfer, sending side', () => {
  const table = new SessionTable()
  for (let i = 0; i < 50; i++) table.apply({ id: `s${String(i).padStart(30, '0')}`, createdAt: 1, lastAccessedAt: 1, attrs: [['a', [1, 0, 'n'], '"x"']] })

  it('serves a snapshot in bounded chunks, then says it is complete', () => {
    const server = new StateTransferServer(table, new ManualClock(), new Metrics(), 500)
    let cursor = 0
    let records = 0
    let chunks = 0
    while (cursor !== -1) {
      const chunk = server.chunk('t1', cursor)
      records += chunk.r.length
      chunks++
      cursor = chunk.c
    }
    expect(records).toBe(50)
    expect(chunks).toBeGreaterThan(5)
  })

  it('announces every chunk boundary in its first reply and serves the announced ranges exactly', () => {
    const server = new StateTransferServer(table, new ManualClock(), new Metrics(), 500)
    const first = server.chunk('t2', 0)
    const ends = first.b!
    expect(ends.length).toBeGreaterThan(5)
    expect(ends.at(-1)).toBe(50)
    expect(ends.every((end, i) => i === 0 || end > ends[i - 1]!)).toBe(true)
    expect(first).toMatchObject({ c: ends[0] })
    expect(first.r).toHaveLength(ends[0]!)
    const ids = new Set(first.r.map((r) => r[0]))
    // The joiner asks for several chunks before the first reply to them arrives.
    for (let k = 1; k < ends.length; k++) {
      const chunk = server.chunk('t2', ends[k - 1]!, ends[k])
      expect(chunk.b).toBeUndefined()
      expect(chunk.r).toHaveLength(ends[k]! - ends[k - 1]!)
      expect(chunk.c).toBe(k === ends.length - 1 ? -1 : ends[k])
      for (const r of chunk.r) ids.add(r[0])
    }
    expect(ids.size).toBe(50)
  })

  it('serves announced chunks only: a range the joiner chose could make one reply the whole table', () => {
    const server = new StateTransferServer(table, new ManualClock(), new Metrics(), 500)
    const ends = server.chunk('t3', 0).b!
    expect(() => server.chunk('t3', ends[0]!, 50)).toThrow(/not a chunk this transfer announced/)
    expect(() => server.chunk('t3', ends[0]! + 1, ends[1])).toThrow(/not a chunk this transfer announced/)
    expect(server.chunk('t3', ends[0]!, ends[1]).r).toHaveLength(ends[1]! - ends[0]!)
  })

  it('refuses to continue a transfer it does not know (it restarted): the joiner must start over', () => {
    const server = new StateTransferServer(table, new ManualClock(), new Metrics(), 500)
    expect(() => server.chunk('never-started', 10)).toThrow(/start again from cursor 0/)
  })
})

describe('state transfer, sending side: bounds on what it serves at once', () => {
  const table = new SessionTable()
  for (let i = 0; i < 50; i++) table.apply({ id: `s${String(i).padStart(30, '0')}`, createdAt: 1, lastAccessedAt: 1, attrs: [['a', [1, 0, 'n'], '"x"']] })
  const at = (port: number) => ({ host: '10.0.0.9', port })
  const members = new Set([1, 2])
  const server = (limits: Partial<StateTransferLimits> = {}, requestLimits?: PeerRequestLimits) => {
    const clock = new ManualClock()
    const metrics = new Metrics()
    const s = new StateTransferServer(table, clock, metrics, 500, {
      limits: { ...STATE_TRANSFER_LIMITS, ...limits },
      isMember: (from) => members.has(from.port),
      requestLimits,
    })
    return { clock, metrics, s }
  }

  it("a peer's new transfer replaces its older one; the older cannot be continued", () => {
    const { s, metrics } = server()
    const ends = s.chunk('old', 0, undefined, at(5)).b!
    s.chunk('new', 0, undefined, at(5))
    expect(s.describe().open).toBe(1)
    expect(metrics.get('state-transfer.replaced')).toBe(1)
    expect(() => s.chunk('old', ends[0]!, ends[1], at(5))).toThrow(/start again from cursor 0/)
    // A transfer belongs to the peer that started it.
    expect(() => s.chunk('new', ends[0]!, ends[1], at(6))).toThrow(/start again from cursor 0/)
  })

  it('refuses a transfer beyond maxTransfers with PeerBusyError, unless one is stalled or (for a member) not a member’s', async () => {
    const { s, metrics, clock } = server({ maxTransfers: 2 })
    s.chunk('x', 0, undefined, at(5))
    s.chunk('y', 0, undefined, at(6))
    expect(() => s.chunk('z', 0, undefined, at(7))).toThrow(PeerBusyError)
    expect(metrics.get('state-transfer.refused.concurrency')).toBe(1)
    s.chunk('m', 0, undefined, at(1)) // a member: takes the place of a non-member's transfer
    expect(metrics.get('state-transfer.evicted')).toBe(1)
    expect(s.describe().open).toBe(2)
    await clock.advance(STALLED_AFTER_MS)
    s.chunk('z', 0, undefined, at(7)) // now a stalled one makes room, whoever asks
    expect(s.describe().open).toBe(2)
  })

  it('counts the bytes the snapshots hold, and refuses a transfer that would hold more than maxSnapshotBytes', () => {
    const { s, metrics } = server({ maxSnapshotBytes: 1 })
    s.chunk('a', 0, undefined, at(5))
    const { open, snapshotBytes } = s.describe()
    expect(open).toBe(1)
    expect(snapshotBytes).toBe([...table.records()].reduce((sum, r) => sum + estimateRecordBytes(r), 0))
    expect(() => s.chunk('b', 0, undefined, at(6))).toThrow(/bytes of snapshots/)
    expect(metrics.get('state-transfer.refused.memory')).toBe(1)
  })

  it('a transfer may ask for each chunk about twice, no more: replaying it is refused and forgets it', () => {
    const { s, metrics } = server()
    const ends = s.chunk('t', 0, undefined, at(5)).b!
    const asks = () => s.chunk('t', ends[0]!, ends[1], at(5))
    for (let i = 0; i < 2 * ends.length + 8; i++) asks()
    expect(asks).toThrow(/more chunks than it has/)
    expect(metrics.get('state-transfer.refused.requests')).toBe(1)
    expect(s.describe().open).toBe(0)
  })

  it('a peer may start only so many transfers per minute; a refusal for lack of room does not spend its budget', () => {
    const clock = new ManualClock()
    const metrics = new Metrics()
    const rates = { 'state-transfer': { perSecond: 0.1, burst: 2 }, 'anti-entropy': { perSecond: 1, burst: 1 }, records: { perSecond: 1, burst: 1 } }
    const requestLimits = new PeerRequestLimits({ clock, metrics, logger: silentLogger, rates })
    const s = new StateTransferServer(table, clock, metrics, 500, { limits: { ...STATE_TRANSFER_LIMITS, maxTransfers: 1 }, requestLimits })
    const ends = s.chunk('a', 0, undefined, at(5)).b!
    for (let i = 0; i < 5; i++) expect(() => s.chunk(`b${i}`, 0, undefined, at(6))).toThrow(/state transfers already/)
    for (let k = 1; k < ends.length; k++) s.chunk('a', ends[k - 1]!, ends[k], at(5)) // a completes
    expect(s.describe().open).toBe(0)
    s.chunk('b', 0, undefined, at(6))
    s.chunk('c', 0, undefined, at(6))
    expect(() => s.chunk('d', 0, undefined, at(6))).toThrow(/over its state-transfer budget/)
    expect(metrics.get('limits.refused.state-transfer')).toBe(1)
  })
})
