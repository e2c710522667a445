import { describe, expect, it } from 'vitest'
import { ManualClock } from '../src/clock/manual-clock.js'
import { PeerBusyError } from '../src/errors.js'
import { silentLogger } from '../src/logger.js'
import { Metrics } from '../src/metrics.js'
import { PeerRequestLimits } from '../src/replication/peer-request-limits.js'

const peer = { host: '10.0.0.2', port: 4000 }
const other = { host: '10.0.0.3', port: 4000 }

function limits() {
  const clock = new ManualClock()
  const metrics = new Metrics()
  const rates = {
    'state-transfer': { perSecond: 0.1, burst: 3 },
    'anti-entropy': { perSecond: 10, burst: 20 },
    records: { perSecond: 1_000, burst: 2_000 },
  }
  return { clock, metrics, limits: new PeerRequestLimits({ clock, metrics, logger: silentLogger, rates }) }
}

describe('peer request limits', () => {
  it('lets a burst through, then refuses with PeerBusyError until the budget refills; counted per kind', async () => {
    const { clock, metrics, limits: l } = limits()
    for (let i = 0; i < 3; i++) l.admit('state-transfer', peer)
    expect(() => l.admit('state-transfer', peer)).toThrow(PeerBusyError)
    expect(metrics.get('limits.refused.state-transfer')).toBe(1)
    // Other peers and other kinds have budgets of their own.
    expect(() => l.admit('state-transfer', other)).not.toThrow()
    expect(() => l.admit('anti-entropy', peer)).not.toThrow()
    await clock.advance(9_000)
    expect(() => l.admit('state-transfer', peer)).toThrow(/retry in \d+ ms/)
    await clock.advance(1_000)
    expect(() => l.admit('state-transfer', peer)).not.toThrow()
  })

  it('charges a request its cost: one large request spends what many small ones do, and may put the budget in debt', async () => {
    const { clock, limits: l } = limits()
    l.admit('records', peer, 5_000) // more than the burst: let in on a full budget, which it leaves 3,000 in debt
    expect(() => l.admit('records', peer, 1)).toThrow(PeerBusyError)
    await clock.advance(3_000)
    expect(() => l.admit('records', peer, 1)).toThrow(PeerBusyError) // repaid, but nothing to pay with yet
    expect(() => l.admit('records', other, 5_000)).not.toThrow()
    await clock.advance(1)
    expect(() => l.admit('records', peer, 1)).not.toThrow()
  })

  it('charge after the fact refuses the next request, not the one that ran', async () => {
    const { clock, limits: l } = limits()
    l.admit('anti-entropy', peer)
    l.charge('records', peer, 2_500)
    expect(() => l.admit('records', peer, 1)).toThrow(PeerBusyError)
    await clock.advance(600)
    expect(() => l.admit('records', peer, 1)).not.toThrow()
  })

  it('never holds more than the burst after a quiet spell', async () => {
    const { clock, limits: l } = limits()
    l.admit('anti-entropy', peer)
    await clock.advance(3_600_000)
    for (let i = 0; i < 20; i++) l.admit('anti-entropy', peer)
    expect(() => l.admit('anti-entropy', peer)).toThrow(PeerBusyError)
  })
})
