import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ManualClock } from '../src/clock/manual-clock.js'
import { Admission, type AdmissionClose, type AdmissionLimits, sourceOf } from '../src/transport/tcp/admission.js'

/** Admission over named connections and a manual clock; `closed` lists what it closed, in order, with why. */
function admission(limits: Partial<AdmissionLimits> = {}) {
  const clock = new ManualClock()
  const closed: Array<{ name: string; why: AdmissionClose; source: string }> = []
  const policy = new Admission<string>({ maxPending: 4, maxPendingPerSource: 2, helloTimeoutMs: 3_000, ...limits }, clock, (name, why, source) =>
    closed.push({ name, why, source }),
  )
  return { clock, closed, policy }
}

describe('admission of connections that have not introduced themselves', () => {
  it('lets connections in under the caps and closes none', () => {
    const { policy, closed } = admission()
    policy.admit('a1', 'A')
    policy.admit('b1', 'B')
    policy.admit('a2', 'A')
    expect(closed).toEqual([])
    expect(policy.pending).toBe(3)
    expect(policy.pendingFrom('A')).toBe(2)
  })

  it('over a source cap, closes the oldest of that source and of no other', () => {
    const { policy, closed } = admission({ maxPending: 10, maxPendingPerSource: 2 })
    policy.admit('b1', 'B')
    policy.admit('a1', 'A')
    policy.admit('a2', 'A')
    policy.admit('a3', 'A')
    policy.admit('a4', 'A')
    expect(closed).toEqual([
      { name: 'a1', why: 'source-cap', source: 'A' },
      { name: 'a2', why: 'source-cap', source: 'A' },
    ])
    expect(policy.pendingFrom('A')).toBe(2)
    expect(policy.pendingFrom('B')).toBe(1)
  })

  it('over the total cap, lets the newcomer in and closes the oldest of the busiest source, the older source first on a tie', () => {
    const { policy, closed } = admission({ maxPending: 4, maxPendingPerSource: 4 })
    policy.admit('peer', 'P') // the oldest of all, alone from its source
    policy.admit('x1', 'X')
    policy.admit('y1', 'Y')
    policy.admit('x2', 'X')
    policy.admit('y2', 'Y') // X and Y hold two each: X's oldest came first
    expect(closed.map((c) => `${c.name}:${c.why}`)).toEqual(['x1:evicted'])
    policy.admit('y3', 'Y') // Y is the busiest now
    policy.admit('z1', 'Z')
    expect(closed.map((c) => c.name)).toEqual(['x1', 'y1', 'y2'])
    expect(policy.pendingFrom('P')).toBe(1)
  })

  it('closes the plain oldest when every source holds one', () => {
    const { policy, closed } = admission({ maxPending: 3, maxPendingPerSource: 3 })
    for (const source of ['A', 'B', 'C', 'D', 'E']) policy.admit(source.toLowerCase(), source)
    expect(closed.map((c) => c.name)).toEqual(['a', 'b'])
  })

  it('stops counting a connection once it introduced itself or closed', () => {
    const { policy, closed } = admission({ maxPending: 2, maxPendingPerSource: 2 })
    policy.admit('a1', 'A')
    policy.admit('a2', 'A')
    policy.release('a1') // introduced
    policy.release('unknown') // never admitted: nothing happens
    policy.admit('a3', 'A')
    expect(closed).toEqual([])
    expect(policy.pending).toBe(2)
  })

  it('a newcomer is never the one closed; a source never holds more than its cap; a source holding fewer than the busiest is never evicted', () => {
    const step = fc.oneof(
      fc.record({ admit: fc.constantFrom('A', 'B', 'C', 'D', 'E', 'F') }),
      fc.record({ release: fc.nat({ max: 50 }) }),
    )
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }), fc.array(step, { maxLength: 120 }), (maxPending, perSource, steps) => {
        const { policy, closed } = admission({ maxPending, maxPendingPerSource: Math.min(perSource, maxPending) })
        const waiting: Array<{ name: string; source: string }> = []
        let next = 0
        for (const s of steps) {
          if ('release' in s) {
            const [gone] = waiting.splice(s.release % Math.max(1, waiting.length), 1)
            if (gone) policy.release(gone.name)
            continue
          }
          const name = `c${next++}`
          const counts = new Map<string, number>()
          for (const w of waiting) counts.set(w.source, (counts.get(w.source) ?? 0) + 1)
          const busiest = Math.max(0, ...counts.values(), (counts.get(s.admit) ?? 0) + 1)
          const before = closed.length
          policy.admit(name, s.admit)
          waiting.push({ name, source: s.admit })
          for (const c of closed.slice(before)) {
            expect(c.name).not.toBe(name)
            const held = (counts.get(c.source) ?? 0) + (c.source === s.admit ? 1 : 0)
            if (c.why === 'evicted') expect(held).toBe(busiest)
            waiting.splice(
              waiting.findIndex((w) => w.name === c.name),
              1,
            )
          }
          expect(policy.pending).toBe(waiting.length)
          expect(policy.pending).toBeLessThanOrEqual(maxPending)
          expect(policy.pendingFrom(s.admit)).toBeLessThanOrEqual(Math.min(perSource, maxPending))
        }
      }),
    )
  })

  it('closes a connection when its hello deadline passes, and only then; one timer for all, none once nothing waits', async () => {
    const { policy, closed, clock } = admission({ maxPending: 10, maxPendingPerSource: 10, helloTimeoutMs: 3_000 })
    policy.admit('early', 'A')
    await clock.advance(1_000)
    policy.admit('late', 'B')
    policy.admit('introduced', 'C')
    expect(clock.pendingTimers).toBe(1)
    await clock.advance(1_999)
    expect(closed).toEqual([])
    await clock.advance(1)
    expect(closed).toEqual([{ name: 'early', why: 'hello-deadline', source: 'A' }])
    policy.release('introduced')
    await clock.advance(999)
    expect(closed).toHaveLength(1)
    await clock.advance(1)
    expect(closed.map((c) => `${c.name}:${c.why}`)).toEqual(['early:hello-deadline', 'late:hello-deadline'])
    expect(policy.pending).toBe(0)
    expect(clock.pendingTimers).toBe(0)
  })

  it('clear forgets everything and leaves no timer', async () => {
    const { policy, closed, clock } = admission()
    policy.admit('a', 'A')
    policy.clear()
    expect(clock.pendingTimers).toBe(0)
    await clock.advance(10_000)
    expect(closed).toEqual([])
  })
})

describe('sourceOf', () => {
  it('counts IPv4 addresses singly, IPv4-mapped IPv6 as IPv4, and IPv6 by /64', () => {
    expect(sourceOf('10.1.2.3')).toBe('10.1.2.3')
    expect(sourceOf('::ffff:10.1.2.3')).toBe('10.1.2.3')
    expect(sourceOf('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64')
    expect(sourceOf('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64')
    expect(sourceOf('2001:0db8:0001:0002::9')).toBe('2001:db8:1:2::/64')
    expect(sourceOf('2001:db8::1')).toBe('2001:db8:0:0::/64')
    expect(sourceOf('::1')).toBe('0:0:0:0::/64')
    expect(sourceOf('fe80::1%eth0')).toBe('fe80:0:0:0::/64')
    expect(sourceOf('64:ff9b::192.0.2.1')).toBe('64:ff9b:0:0::/64')
    expect(sourceOf(undefined)).toBe('unknown')
  })
})
