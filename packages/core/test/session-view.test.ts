import { describe, expect, it } from 'vitest'
import { ManualClock } from '../src/clock/manual-clock.js'
import { InvalidParametersError, SessionTooLargeError, UnserializableValueError } from '../src/errors.js'
import type { AttrWrite } from '../src/session/attributes.js'
import { commitLocalChange, deltaForLocalChange } from '../src/session/commit.js'
import { HybridClock } from '../src/session/hlc.js'
import { applyDelta } from '../src/session/merge.js'
import { liveAttributes, recordsEqual, type SessionRecord } from '../src/session/record.js'
import { diffSession, loadSession } from '../src/session/view.js'

function recordWith(attrs: Record<string, unknown>): SessionRecord {
  return applyDelta(undefined, {
    id: 's1',
    attrs: Object.entries(attrs).map(([name, value]) => [name, [1, 0, 'n1'], JSON.stringify(value)]),
  }).record
}

const sample = () => recordWith({ cart: [1, 2], user: { name: 'ann', prefs: { theme: 'dark' } }, n: 1 })

describe('loadSession', () => {
  it('gives each request fresh objects and the json it loaded', () => {
    const record = sample()
    const a = loadSession(record)
    const b = loadSession(record)
    ;(a.data.cart as number[]).push(3)
    expect(b.data.cart).toEqual([1, 2])
    expect(a.baseline.get('cart')).toBe('[1,2]')
    expect(a.id).toBe('s1')
  })

  it('leaves removed attributes out', () => {
    const { record } = applyDelta(sample(), { id: 's1', attrs: [['n', [2, 0, 'n1'], undefined]] })
    expect(Object.keys(loadSession(record).data).sort()).toEqual(['cart', 'user'])
  })
})

describe('diffSession', () => {
  it('is empty for an unchanged session', () => {
    const { baseline, data } = loadSession(sample())
    const diff = diffSession(baseline, data)
    expect(diff.set).toEqual([])
    expect(diff.removed).toEqual([])
    expect(diff.bytes).toBe([...baseline].reduce((sum, [name, json]) => sum + name.length + json.length, 0))
  })

  it('detects in-place pushes and nested changes, reporting only changed attributes', () => {
    const { baseline, data } = loadSession(sample())
    ;(data.cart as number[]).push(3)
    ;(data.user as { prefs: { theme: string } }).prefs.theme = 'light'
    expect(diffSession(baseline, data).set).toEqual([
      ['cart', '[1,2,3]'],
      ['user', '{"name":"ann","prefs":{"theme":"light"}}'],
    ])
  })

  it('reports new attributes and removals (deleted, undefined, or functions)', () => {
    const { baseline, data } = loadSession(sample())
    delete data.cart
    data.n = undefined
    data.user = () => 1
    data.fresh = { ok: true }
    const diff = diffSession(baseline, data)
    expect(diff.set).toEqual([['fresh', '{"ok":true}']])
    expect(diff.removed.sort()).toEqual(['cart', 'n', 'user'])
  })

  it('names the attribute a value cannot be stored for, with the cause', () => {
    const { baseline, data } = loadSession(sample())
    data.big = 10n
    expect(() => diffSession(baseline, data)).toThrow(UnserializableValueError)
    expect(() => diffSession(baseline, data)).toThrow(/"big"/)
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    const err = catchError(() => diffSession(new Map(), { cyclic }))
    expect(err).toBeInstanceOf(UnserializableValueError)
    expect((err as Error).cause).toBeInstanceOf(TypeError)
  })

  it('refuses reserved and over-long attribute names', () => {
    expect(() => diffSession(new Map(), JSON.parse('{"__proto__":1}'))).toThrow(InvalidParametersError)
    expect(() => diffSession(new Map(), { constructor: 1 })).toThrow(InvalidParametersError)
    expect(() => diffSession(new Map(), { ['x'.repeat(257)]: 1 })).toThrow(InvalidParametersError)
    expect(diffSession(new Map(), { ['x'.repeat(256)]: 1 }).set).toHaveLength(1)
  })

  it('refuses a change that makes the session too large, but not an unchanged one', () => {
    const { baseline, data } = loadSession(sample())
    data.blob = 'x'.repeat(100)
    expect(() => diffSession(baseline, data, { maxSessionBytes: 100 })).toThrow(SessionTooLargeError)
    const unchanged = loadSession(sample())
    expect(diffSession(unchanged.baseline, unchanged.data, { maxSessionBytes: 10 }).set).toEqual([])
  })

  it('counts UTF-8 bytes', () => {
    expect(diffSession(new Map(), { é: 'é' }).bytes).toBe(2 + 4)
  })
})

describe('local commits', () => {
  it('two concurrent requests on two nodes changing different attributes both survive', () => {
    const clock = new ManualClock()
    const hlcA = new HybridClock('a', clock)
    const hlcB = new HybridClock('b', clock)
    const created = commitLocalChange(
      undefined,
      { id: 's1', diff: { set: [['cart', '[]'], ['user', '"ann"']], removed: [] }, createdAt: 1, maxInactiveMs: 1000, route: 'a' },
      hlcA,
    )!
    let onA = created.record
    let onB = applyDelta(undefined, created.delta).record

    const reqA = loadSession(onA)
    const reqB = loadSession(onB)
    ;(reqA.data.cart as number[]).push(1)
    reqB.data.user = 'bob'
    const commitA = commitLocalChange(onA, { id: 's1', diff: diffSession(reqA.baseline, reqA.data) }, hlcA)!
    const commitB = commitLocalChange(onB, { id: 's1', diff: diffSession(reqB.baseline, reqB.data) }, hlcB)!
    onA = applyDelta(commitA.record, commitB.delta).record
    onB = applyDelta(commitB.record, commitA.delta).record

    expect(recordsEqual(onA, onB)).toBe(true)
    expect(liveAttributes(onA)).toEqual(
      new Map([
        ['cart', '[1]'],
        ['user', '"bob"'],
      ]),
    )
  })

  it('a local write beats the value it replaces even if that came from a clock running ahead', () => {
    const clock = new ManualClock(1_000)
    const hlc = new HybridClock('a', clock)
    const record = applyDelta(undefined, { id: 's1', attrs: [['n', [1_500, 3, 'z'], '1']] }).record
    const commit = commitLocalChange(record, { id: 's1', diff: { set: [['n', '2']], removed: [] } }, hlc)!
    expect(liveAttributes(commit.record).get('n')).toBe('2')
  })

  it('sends nothing for an unchanged request, only times for a touch, a tombstone for a destroy', () => {
    const hlc = new HybridClock('a', new ManualClock())
    const record = sample()
    expect(deltaForLocalChange(record, { id: 's1', diff: { set: [], removed: [] } }, hlc)).toBeUndefined()
    expect(deltaForLocalChange(record, { id: 's1', lastAccessedAt: 9 }, hlc)).toEqual({ id: 's1', lastAccessedAt: 9 })
    const destroy = commitLocalChange(record, { id: 's1', destroy: true }, hlc)!
    expect(destroy.delta.destroyed).toBeDefined()
    expect(destroy.changes.map((c) => c.type)).toEqual(['destroyed'])
  })

  it('stamps every write of one commit with the same stamp', () => {
    const hlc = new HybridClock('a', new ManualClock())
    const delta = deltaForLocalChange(undefined, { id: 's1', diff: { set: [['x', '1']], removed: ['y'] }, route: 'a' }, hlc)!
    const writes = delta.attrs as AttrWrite[]
    expect(writes.map(([, stamp]) => stamp)).toEqual([delta.route!.stamp, delta.route!.stamp])
    expect(writes[1]).toEqual(['y', delta.route!.stamp, undefined])
  })
})

function catchError(fn: () => unknown): unknown {
  try {
    fn()
  } catch (error) {
    return error
  }
  throw new Error('expected a throw')
}
