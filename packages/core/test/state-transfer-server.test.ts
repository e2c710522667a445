import { describe, expect, it } from 'vitest'
import { ManualClock } from '../src/clock/manual-clock.js'
import { Metrics } from '../src/metrics.js'
import { StateTransferServer } from '../src/replication/state-transfer.js'
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
