import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Clock } from '../src/clock/clock.js'
import { ManualClock } from '../src/clock/manual-clock.js'
import { compareStamps, HybridClock, type Stamp } from '../src/session/hlc.js'

/** A clock whose wall time can also go backwards (NTP steps, VM pauses). */
function settableClock(start = 1_000_000): Clock & { set(ms: number): void } {
  let now = start
  return {
    now: () => now,
    monotonic: () => 0,
    set: (ms) => void (now = ms),
    setTimeout: () => ({ cancel() {} }),
    setInterval: () => ({ cancel() {} }),
  }
}

describe('compareStamps', () => {
  it('orders by wall time, then counter, then node', () => {
    expect(compareStamps([1, 9, 'z'], [2, 0, 'a'])).toBeLessThan(0)
    expect(compareStamps([2, 1, 'a'], [2, 0, 'z'])).toBeGreaterThan(0)
    expect(compareStamps([2, 1, 'a'], [2, 1, 'b'])).toBeLessThan(0)
    expect(compareStamps([2, 1, 'a'], [2, 1, 'a'])).toBe(0)
  })
})

describe('HybridClock', () => {
  it('issues strictly increasing stamps even when the wall clock stands still or goes back', () => {
    const clock = settableClock()
    const hlc = new HybridClock('n1', clock)
    const a = hlc.now()
    const b = hlc.now()
    clock.set(500)
    const c = hlc.now()
    expect(compareStamps(a, b)).toBeLessThan(0)
    expect(compareStamps(b, c)).toBeLessThan(0)
    expect(c[0]).toBe(1_000_000)
  })

  it('follows the wall clock when it moves forward', async () => {
    const clock = new ManualClock(5_000)
    const hlc = new HybridClock('n1', clock)
    hlc.now()
    await clock.advance(10)
    expect(hlc.now()).toEqual([5_010, 0, 'n1'])
  })

  it('orders stamps after every observed stamp', () => {
    const clock = settableClock(1_000)
    const hlc = new HybridClock('n1', clock)
    expect(hlc.observe([1_500, 7, 'n2'])).toBe(true)
    expect(hlc.now()).toEqual([1_500, 8, 'n1'])
    expect(hlc.observe([1_500, 3, 'n3'])).toBe(true)
    expect(hlc.now()).toEqual([1_500, 9, 'n1'])
  })

  it('caps how far a peer clock in the future can move it, and counts it', () => {
    const clock = settableClock(1_000)
    const hlc = new HybridClock('n1', clock, { maxDriftMs: 100 })
    expect(hlc.observe([10_000_000, 5, 'n2'])).toBe(false)
    expect(hlc.cappedObservations).toBe(1)
    expect(hlc.now()).toEqual([1_100, 1, 'n1'])
  })

  it('property: stamps keep increasing and order after observed (uncapped) stamps', () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: -50, max: 50 }) }),
      fc.record({ kind: fc.constant('now' as const) }),
      fc.record({
        kind: fc.constant('observe' as const),
        aheadMs: fc.integer({ min: -100, max: 200 }),
        counter: fc.nat({ max: 5 }),
      }),
    )
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const clock = settableClock(10_000)
        const hlc = new HybridClock('n1', clock, { maxDriftMs: 100 })
        let last: Stamp | undefined
        let highestObserved: Stamp | undefined
        // Our wall time may only come from our own clock or from an observation within the drift cap.
        let wallBound = 0
        for (const s of steps) {
          if (s.kind === 'tick') clock.set(clock.now() + s.ms)
          else if (s.kind === 'observe') {
            const remote: Stamp = [clock.now() + s.aheadMs, s.counter, 'n2']
            wallBound = Math.max(wallBound, clock.now() + 100)
            if (hlc.observe(remote) && (!highestObserved || compareStamps(remote, highestObserved) > 0)) {
              highestObserved = remote
            }
          } else {
            const stamp = hlc.now()
            if (last) expect(compareStamps(stamp, last)).toBeGreaterThan(0)
            if (highestObserved) expect(compareStamps(stamp, highestObserved)).toBeGreaterThan(0)
            wallBound = Math.max(wallBound, clock.now())
            expect(stamp[0]).toBeLessThanOrEqual(wallBound)
            last = stamp
          }
        }
      }),
      { numRuns: 500 },
    )
  })
})
