import { describe, expect, it } from 'vitest'
import { ManualClock } from '../src/clock/manual-clock.js'
import { ThrottledWarning } from '../src/throttled-warning.js'

function recorder() {
  const lines: Array<{ msg: string; fields: Record<string, unknown> | undefined }> = []
  const noop = () => {}
  return { lines, logger: { debug: noop, info: noop, error: noop, warn: (msg: string, fields?: Record<string, unknown>) => lines.push({ msg, fields }) } }
}

describe('ThrottledWarning', () => {
  it('logs the first occurrence at once, then one summary per interval with counts by kind', async () => {
    const clock = new ManualClock()
    const { lines, logger } = recorder()
    const warning = new ThrottledWarning(logger, clock, 'closing connections', 10_000)
    warning.note('evicted', { source: '10.0.0.1' })
    for (let i = 0; i < 500; i++) warning.note('evicted')
    for (let i = 0; i < 20; i++) warning.note('hello-deadline')
    expect(lines).toEqual([{ msg: 'closing connections', fields: { kind: 'evicted', source: '10.0.0.1' } }])
    await clock.advance(9_999)
    expect(lines).toHaveLength(1)
    await clock.advance(1)
    expect(lines[1]).toEqual({
      msg: 'closing connections (more since the last line)',
      fields: { counts: { evicted: 500, 'hello-deadline': 20 }, intervalMs: 10_000 },
    })
    // Quiet for an interval: the next one is logged at once again, and nothing is left pending.
    await clock.advance(10_000)
    warning.note('evicted', { source: '10.0.0.2' })
    expect(lines).toHaveLength(3)
    expect(clock.pendingTimers).toBe(0)
  })

  it('flush logs what is pending and cancels its timer', () => {
    const clock = new ManualClock()
    const { lines, logger } = recorder()
    const warning = new ThrottledWarning(logger, clock, 'refusing requests')
    warning.note('fetch')
    warning.note('fetch')
    warning.flush()
    expect(lines.map((l) => l.fields)).toEqual([{ kind: 'fetch' }, { counts: { fetch: 1 }, intervalMs: 10_000 }])
    expect(clock.pendingTimers).toBe(0)
    warning.flush()
    expect(lines).toHaveLength(2)
  })
})
