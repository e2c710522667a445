import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Stamp } from '../src/session/hlc.js'
import { applyDelta, type SessionChange } from '../src/session/merge.js'
import type { AttrWrite } from '../src/session/attributes.js'
import {
  canonicalRecord,
  type Delta,
  liveAttributes,
  recordsEqual,
  recordToDelta,
  type SessionRecord,
} from '../src/session/record.js'

const ID = 's1'

// Small pools so ties (equal stamps), overwrites and tombstones collide often.
const stampArb: fc.Arbitrary<Stamp> = fc.tuple(
  fc.integer({ min: 1, max: 4 }),
  fc.integer({ min: 0, max: 1 }),
  fc.constantFrom('a', 'b'),
)
const nameArb = fc.constantFrom('cart', 'user', 'theme')
const jsonArb = fc.constantFrom<string | undefined>(undefined, '1', '2', '"x"', '[1,2]', '{"a":1}', 'null')
const attrArb: fc.Arbitrary<AttrWrite> = fc.tuple(nameArb, stampArb, jsonArb)
const maybe = <T>(arb: fc.Arbitrary<T>, absentWeight = 1) =>
  fc.oneof({ weight: absentWeight, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb })

const deltaArb: fc.Arbitrary<Delta> = fc
  .record({
    createdAt: maybe(fc.integer({ min: 0, max: 100 })),
    attrs: maybe(fc.array(attrArb, { minLength: 1, maxLength: 4 }), 0),
    maxInactiveMs: maybe(fc.record({ stamp: stampArb, value: fc.integer({ min: -1, max: 3 }) })),
    route: maybe(fc.record({ stamp: stampArb, value: fc.constantFrom('n1', 'n2', 'n3') })),
    lastAccessedAt: maybe(fc.integer({ min: 0, max: 100 })),
    // Rare, so most runs exercise live attribute merging.
    destroyed: maybe(stampArb, 12),
  })
  .map((parts) => {
    const delta: Delta = { id: ID }
    for (const [key, value] of Object.entries(parts)) if (value !== undefined) Object.assign(delta, { [key]: value })
    return delta
  })

function mergeAll(deltas: readonly Delta[]): SessionRecord {
  let record: SessionRecord | undefined
  for (const delta of deltas) record = applyDelta(record, delta).record
  return record!
}

/** Merge two states (not ops): apply the second record's full state to a copy of the first. */
function join(a: SessionRecord, b: SessionRecord): SessionRecord {
  return mergeAll([recordToDelta(a), recordToDelta(b)])
}

const permutationWithDuplicatesArb = fc.array(deltaArb, { minLength: 1, maxLength: 8 }).chain((deltas) =>
  fc
    .array(fc.nat({ max: deltas.length - 1 }), { maxLength: 6 })
    .chain((dupIndexes) => {
      const all = [...deltas, ...dupIndexes.map((i) => deltas[i]!)]
      return fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length })
    })
    .map((shuffled) => ({ deltas, shuffled })),
)

describe('applyDelta laws', () => {
  it('is commutative', () => {
    fc.assert(
      fc.property(deltaArb, deltaArb, (a, b) => {
        expect(canonicalRecord(mergeAll([a, b]))).toEqual(canonicalRecord(mergeAll([b, a])))
      }),
      { numRuns: 1000 },
    )
  })

  it('is associative (as a join of states)', () => {
    fc.assert(
      fc.property(deltaArb, deltaArb, deltaArb, (a, b, c) => {
        const [ra, rb, rc] = [mergeAll([a]), mergeAll([b]), mergeAll([c])]
        const left = join(join(ra, rb), rc)
        const right = join(ra, join(rb, rc))
        expect(canonicalRecord(left)).toEqual(canonicalRecord(right))
        expect(canonicalRecord(left)).toEqual(canonicalRecord(mergeAll([a, b, c])))
      }),
      { numRuns: 1000 },
    )
  })

  it('is idempotent, for single deltas and for full states', () => {
    fc.assert(
      fc.property(fc.array(deltaArb, { minLength: 1, maxLength: 5 }), deltaArb, (prefix, d) => {
        const once = mergeAll([...prefix, d])
        const twice = mergeAll([...prefix, d, d])
        expect(recordsEqual(once, twice)).toBe(true)
        const again = applyDelta(mergeAll([...prefix, d]), recordToDelta(once))
        expect(again.changes).toEqual([])
        expect(recordsEqual(again.record, once)).toBe(true)
      }),
      { numRuns: 500 },
    )
  })

  it('converges for any order of a multiset of deltas with duplicates', () => {
    fc.assert(
      fc.property(permutationWithDuplicatesArb, ({ deltas, shuffled }) => {
        expect(canonicalRecord(mergeAll(shuffled))).toEqual(canonicalRecord(mergeAll(deltas)))
      }),
      { numRuns: 1000 },
    )
  })

  it('recordToDelta carries the full state', () => {
    fc.assert(
      fc.property(fc.array(deltaArb, { minLength: 1, maxLength: 6 }), (deltas) => {
        const record = mergeAll(deltas)
        expect(canonicalRecord(mergeAll([recordToDelta(record)]))).toEqual(canonicalRecord(record))
      }),
    )
  })

  it('reports changes that, replayed, give exactly the visible attributes', () => {
    fc.assert(
      fc.property(fc.array(deltaArb, { minLength: 1, maxLength: 8 }), (deltas) => {
        const seen = new Map<string, string>()
        let record: SessionRecord | undefined
        for (const delta of deltas) {
          const result = applyDelta(record, delta)
          record = result.record
          replay(seen, result.changes)
        }
        expect(seen).toEqual(liveAttributes(record!))
      }),
      { numRuns: 500 },
    )
  })
})

function replay(seen: Map<string, string>, changes: SessionChange[]): void {
  for (const change of changes) {
    if (change.type === 'attribute-set') {
      expect(change.oldJson).toBe(seen.get(change.name))
      seen.set(change.name, change.newJson)
    } else if (change.type === 'attribute-removed') {
      expect(change.oldJson).toBe(seen.get(change.name))
      seen.delete(change.name)
    } else if (change.type === 'destroyed') {
      expect(new Map(change.attributes)).toEqual(seen)
      seen.clear()
    }
  }
}

describe('applyDelta rules', () => {
  const s = (wall: number, counter = 0, node = 'a'): Stamp => [wall, counter, node]

  it('keeps the highest stamp per attribute, tombstones included', () => {
    const { record } = applyDelta(undefined, {
      id: ID,
      attrs: [
        ['a', s(2), '"new"'],
        ['a', s(1), '"old"'],
        ['b', s(3), undefined],
        ['b', s(2), '"kept?"'],
      ],
    })
    expect(liveAttributes(record)).toEqual(new Map([['a', '"new"']]))
    const b = record.attrs.find('b')
    expect([record.attrs.stamp(b), record.attrs.json(b)]).toEqual([s(3), undefined])
  })

  it('destroy wins over concurrent and later writes, and the record forgets its attributes', () => {
    const created = applyDelta(undefined, {
      id: ID,
      createdAt: 10,
      attrs: [['user', s(1), '"ann"']],
      route: { stamp: s(1), value: 'n1' },
      maxInactiveMs: { stamp: s(1), value: 1000 },
    })
    expect(created.changes[0]).toEqual({ type: 'created', id: ID })
    const destroyed = applyDelta(created.record, { id: ID, destroyed: s(2), lastAccessedAt: 50 })
    expect(destroyed.changes).toEqual([{ type: 'destroyed', id: ID, attributes: [['user', '"ann"']] }])
    const late = applyDelta(destroyed.record, {
      id: ID,
      attrs: [['user', s(99), '"bob"']],
      route: { stamp: s(99), value: 'n2' },
      destroyed: s(1),
    })
    expect(late.changes).toEqual([])
    expect(late.record.attrs.size).toBe(0)
    expect(late.record.destroyed).toEqual(s(2))
    expect(late.record.lastAccessedAt).toBe(50)
    expect(late.record.route.value).toBe('')
  })

  it('keeps a delta that arrives before the create, and the create does not undo it', () => {
    const early = applyDelta(undefined, { id: ID, attrs: [['cart', s(5, 0, 'b'), '[1]']] })
    expect(early.changes.map((c) => c.type)).toEqual(['created', 'attribute-set'])
    const create = applyDelta(early.record, {
      id: ID,
      createdAt: 100,
      attrs: [['user', s(4), '"ann"']],
      maxInactiveMs: { stamp: s(4), value: 60_000 },
    })
    expect(liveAttributes(create.record)).toEqual(
      new Map([
        ['cart', '[1]'],
        ['user', '"ann"'],
      ]),
    )
    expect(create.record.createdAt).toBe(100)
    expect(create.record.maxInactiveMs.value).toBe(60_000)
  })

  it('a destroy for an unknown session makes a tombstone without visible changes', () => {
    const { record, changes } = applyDelta(undefined, { id: ID, destroyed: s(1) })
    expect(changes).toEqual([])
    expect(record.destroyed).toEqual(s(1))
  })

  it('reports route and max-inactive changes once both values are known', () => {
    const { record } = applyDelta(undefined, { id: ID, route: { stamp: s(1), value: 'n1' } })
    const { changes } = applyDelta(record, {
      id: ID,
      route: { stamp: s(2), value: 'n2' },
      maxInactiveMs: { stamp: s(2), value: 5 },
    })
    expect(changes).toEqual([{ type: 'route-changed', id: ID, oldRoute: 'n1', newRoute: 'n2' }])
  })

  it('refuses a delta for another session', () => {
    const { record } = applyDelta(undefined, { id: ID })
    expect(() => applyDelta(record, { id: 'other' })).toThrow(expect.objectContaining({ name: 'InvalidParametersError' }))
  })
})
