import { describe, expect, it } from 'vitest'
import { ManualClock } from '../src/clock/manual-clock.js'
import { FailureDetector, type Verdict } from '../src/membership/failure-detector.js'

/** A detector over a manual clock whose direct checks answer what `answer` says, after `delayMs`. */
function detector(answer: (id: string, attempt: number) => Verdict | 'silent') {
  const clock = new ManualClock()
  const events: string[] = []
  const attempts = new Map<string, number>()
  const fd = new FailureDetector({
    clock,
    suspectTimeoutMs: 1_000,
    verifyTimeoutMs: 300,
    verify: (id, timeoutMs) => {
      const attempt = (attempts.get(id) ?? 0) + 1
      attempts.set(id, attempt)
      const verdict = answer(id, attempt)
      return new Promise((resolve) => {
        if (verdict === 'silent') clock.setTimeout(() => resolve('dead'), timeoutMs)
        else clock.setTimeout(() => resolve(verdict), 5)
      })
    },
    onSuspect: (id, reason) => events.push(`suspect ${id} (${reason})`),
    onCleared: (id) => events.push(`cleared ${id}`),
    onFailed: (id, verdict) => {
      events.push(`failed ${id} ${verdict}`)
      fd.forget(id, true)
    },
  })
  return { clock, fd, events, attempts }
}

describe('FailureDetector', () => {
  it('suspects a member silent for longer than suspectTimeoutMs and removes it when no check is answered', async () => {
    const { clock, fd, events } = detector(() => 'silent')
    fd.watch('m1')
    await clock.advance(900)
    fd.tick()
    expect(events).toEqual([])
    await clock.advance(200)
    fd.tick()
    expect(events).toEqual(['suspect m1 (no heartbeat)'])
    await clock.advance(1_000)
    expect(events).toEqual(['suspect m1 (no heartbeat)', 'failed m1 dead'])
  })

  it('heartbeats do not clear a suspicion: only an answer to the direct check does (one-way loss)', async () => {
    const { clock, fd, events } = detector(() => 'silent')
    fd.watch('m1')
    fd.suspect('m1', 'replication ack-timeout')
    // Its heartbeats keep arriving (the path towards us works), but it never answers our checks.
    for (let t = 0; t < 1_000; t += 100) {
      fd.heard('m1')
      await clock.advance(100)
    }
    expect(events).toEqual(['suspect m1 (replication ack-timeout)', 'failed m1 dead'])
    expect(fd.hasFailed('m1')).toBe(true)
  })

  it('one lost ping does not remove a member: any of the three answers clears it', async () => {
    const { clock, fd, events, attempts } = detector((_id, attempt) => (attempt < 3 ? 'silent' : 'alive'))
    fd.watch('m1')
    fd.suspect('m1', 'connection lost')
    await clock.advance(1_000)
    expect(attempts.get('m1')).toBe(3)
    expect(events).toEqual(['suspect m1 (connection lost)', 'cleared m1'])
    expect(fd.isSuspect('m1')).toBe(false)
  })

  it('another process answering at the address is a replacement, not the member', async () => {
    const { clock, fd, events } = detector(() => 'replaced')
    fd.watch('m1')
    fd.suspect('m1', 'connection lost')
    await clock.advance(100)
    expect(events).toEqual(['suspect m1 (connection lost)', 'failed m1 replaced'])
  })

  it('a failed incarnation is readmitted only after it answers a check, and rechecked at most once per suspect period', async () => {
    let answering = false
    const { clock, fd } = detector(() => (answering ? 'alive' : 'silent'))
    fd.watch('m1')
    fd.suspect('m1', 'no heartbeat')
    await clock.advance(1_000)
    expect(fd.hasFailed('m1')).toBe(true)
    // Too soon after the failed check: not even asked.
    expect(await fd.recheck('m1')).toBe(false)
    await clock.advance(1_000)
    const silent = fd.recheck('m1')
    await clock.advance(400)
    expect(await silent).toBe(false)
    answering = true
    await clock.advance(1_000)
    const answered = fd.recheck('m1')
    await clock.advance(10)
    expect(await answered).toBe(true)
    expect(fd.hasFailed('m1')).toBe(false)
  })
})
