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

  it('refuses to continue a transfer it does not know (it restarted): the joiner must start over', () => {
    const server = new StateTransferServer(table, new ManualClock(), new Metrics(), 500)
    expect(() => server.chunk('never-started', 10)).toThrow(/start again from cursor 0/)
  })
})
