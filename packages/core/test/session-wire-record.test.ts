import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { cborCodec } from '../src/codec/cbor-codec.js'
import { MalformedMessageError } from '../src/errors.js'
import { AttributeSet, type AttrWrite } from '../src/session/attributes.js'
import type { Stamp } from '../src/session/hlc.js'
import { applyDelta } from '../src/session/merge.js'
import { canonicalRecord, type Delta, recordToDelta, type SessionRecord } from '../src/session/record.js'
import { recordFromWire, recordToWire, WireStrings, WireStringTable } from '../src/session/wire-record.js'

const ID = 'AbC-123_xyzAbC-123_xyzAbC-123_xy'
const stampArb: fc.Arbitrary<Stamp> = fc.tuple(
  fc.integer({ min: 1, max: 2 ** 45 }),
  fc.integer({ min: 0, max: 3 }),
  fc.constantFrom('node-a', 'node-b-with-a-long-id'),
)
// Short and long JSON (around the lengths where cbor-x slices strings out of one another) and removals.
const jsonArb = fc.oneof(
  fc.constant(undefined),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.string({ minLength: 10, maxLength: 400 }).map((v) => JSON.stringify(v)),
)
const attrArb: fc.Arbitrary<AttrWrite> = fc.tuple(fc.constantFrom('cart', 'user', 'théme', 'n'), stampArb, jsonArb)
const deltaArb: fc.Arbitrary<Delta> = fc
  .record({
    createdAt: fc.option(fc.nat(), { nil: undefined }),
    attrs: fc.option(fc.array(attrArb, { minLength: 1, maxLength: 5 }), { nil: undefined }),
    maxInactiveMs: fc.option(fc.record({ stamp: stampArb, value: fc.integer() }), { nil: undefined }),
    route: fc.option(fc.record({ stamp: stampArb, value: fc.constantFrom('n1', 'n2') }), { nil: undefined }),
    lastAccessedAt: fc.option(fc.nat(), { nil: undefined }),
    destroyed: fc.option(stampArb, { freq: 8, nil: undefined }),
  })
  .map((parts) => {
    const delta: Delta = { id: ID }
    for (const [key, value] of Object.entries(parts)) if (value !== undefined) Object.assign(delta, { [key]: value })
    return delta
  })
const recordArb = fc.array(deltaArb, { minLength: 1, maxLength: 5 }).map(mergeAll)

function mergeAll(deltas: readonly Delta[]): SessionRecord {
  let record: SessionRecord | undefined
  for (const delta of deltas) record = applyDelta(record, delta).record
  return record!
}

const codec = cborCodec()
/** A record sent alone in a chunk: the wire record and the chunk's strings. */
function chunkOf(record: SessionRecord): { wire: unknown[]; strings: string[] } {
  const table = new WireStringTable()
  return { wire: recordToWire(record, table), strings: table.list }
}
const throughCbor = (record: SessionRecord) => {
  const { wire, strings } = codec.decode(codec.encode(chunkOf(record))) as { wire: unknown[]; strings: string[] }
  return recordFromWire(wire, new WireStrings(strings))
}

describe('recordToWire / recordFromWire (state transfer)', () => {
  it('carries the full state: a joiner rebuilds the record exactly, through CBOR', () => {
    fc.assert(
      fc.property(recordArb, (record) => {
        expect(canonicalRecord(mergeAll([throughCbor(record)]))).toEqual(canonicalRecord(record))
      }),
      { numRuns: 300 },
    )
  })

  it('merges into a replica that already holds the session like the record as a delta does', () => {
    fc.assert(
      fc.property(recordArb, recordArb, (held, sent) => {
        const viaWire = mergeAll([recordToDelta(held), throughCbor(sent)])
        const viaDelta = mergeAll([recordToDelta(held), recordToDelta(sent)])
        expect(canonicalRecord(viaWire)).toEqual(canonicalRecord(viaDelta))
      }),
      { numRuns: 300 },
    )
  })

  it('writes each stamp once: the writes of one commit share it', () => {
    const stamp: Stamp = [1_700_000_000_000, 0, 'node-a']
    const record = mergeAll([{ id: ID, attrs: [['a', stamp, '1'], ['b', stamp, '2'], ['c', stamp, '3']], route: { stamp, value: 'n1' } }])
    const { wire, strings } = chunkOf(record)
    expect(strings).toEqual(['a', 'b', 'c', 'node-a'])
    expect(wire[3]).toEqual([stamp[0], stamp[1], 3])
    expect(wire[4]).toEqual([0, 0, 1, 1, 0, 2, 2, 0, 3])
    expect(wire[5]).toBe('123')
  })

  it('throws nothing but MalformedMessageError when one part of a valid record is replaced', () => {
    fc.assert(
      fc.property(recordArb, fc.nat(), fc.anything(), (record, position, replacement) => {
        const { wire, strings } = chunkOf(record)
        const parts = [wire, strings, ...wire.filter(Array.isArray)] as unknown[][]
        const target = parts[position % parts.length]!
        target[position % Math.max(1, target.length)] = replacement
        try {
          recordFromWire(structuredClone(wire), new WireStrings(strings))
        } catch (error) {
          expect(error).toBeInstanceOf(MalformedMessageError)
        }
      }),
      { numRuns: 500 },
    )
  })

  const strings = ['user', 'cart', 'n1', '__proto__', '']
  const valid = (): unknown[] => [ID, 1, 2, [5, 0, 2, 6, 0, 2], [0, 0, 5, 1, 1, 7], '"ann"[]', [0, 1000], [1, 'r1']]
  const cases: Array<[string, (w: unknown[]) => void]> = [
    ['an id with a route dot', (w) => void (w[0] = 'abc.n1')],
    ['a stamp table that is not triples', (w) => void (w[3] as unknown[]).pop()],
    ['a stamp with an empty node', (w) => void ((w[3] as unknown[])[2] = 4)],
    ['a stamp whose node is no string of the chunk', (w) => void ((w[3] as unknown[])[2] = 5)],
    ['a stamp reference out of range', (w) => void ((w[4] as unknown[])[1] = 2)],
    ['a fractional stamp reference', (w) => void ((w[6] as unknown[])[0] = 0.5)],
    ['an index that is not triples', (w) => void (w[4] as unknown[]).pop()],
    ['a __proto__ attribute', (w) => void ((w[4] as unknown[])[0] = 3)],
    ['an attribute name that is a string, not a position', (w) => void ((w[4] as unknown[])[0] = 'user')],
    ['an attribute named twice', (w) => void ((w[4] as unknown[])[3] = 0)],
    ['ends that go back', (w) => void ((w[4] as unknown[])[2] = 8)],
    ['an end beyond the text', (w) => void ((w[4] as unknown[])[5] = 10)],
    ['text beyond the last end', (w) => void (w[5] = '"ann"[] ')],
    ['an index without text', (w) => void (w[5] = null)],
    ['a route with a dot', (w) => void ((w[7] as unknown[])[1] = 'a.b')],
    ['a destroyed that refers to no stamp', (w) => void w.push(9)],
  ]
  it.each(cases)('rejects %s', (_, mutate) => {
    const wire = valid()
    expect(recordFromWire(structuredClone(wire), new WireStrings(strings))).toMatchObject({ id: ID })
    mutate(wire)
    expect(() => recordFromWire(wire, new WireStrings(strings))).toThrow(MalformedMessageError)
  })

  it('checks duplicate names with a set when a peer sends many attributes', () => {
    const names = Array.from({ length: 1000 }, (_, i) => `a${i}`)
    const index: unknown[] = []
    for (let i = 0; i < 1000; i++) index.push(i, 0, i + 1)
    index.push(7, 0, 1001)
    const strings = new WireStrings([...names, 'n'])
    expect(() => recordFromWire([ID, 1, 1, [1, 0, 1000], index, '1'.repeat(1001)], strings)).toThrow(/appears twice/)
  })
})

describe('AttributeSet', () => {
  const s1: Stamp = [1, 0, 'a']
  const s2: Stamp = [2, 0, 'a']

  it('withWrites matches a map of name -> [stamp, json] (replacements, removals, new names, any order)', () => {
    const writesArb = fc.uniqueArray(attrArb, { selector: ([name]) => name, maxLength: 4 })
    fc.assert(
      fc.property(fc.array(writesArb, { minLength: 1, maxLength: 6 }), (batches) => {
        let set = AttributeSet.EMPTY
        const model = new Map<string, [Stamp, string | undefined]>()
        for (const writes of batches) {
          set = set.withWrites(writes)
          for (const [name, stamp, json] of writes) model.set(name, [stamp, json])
          expect(set.toWrites()).toEqual([...model].map(([name, [stamp, json]]) => [name, stamp, json]))
          const live = [...model.values()].map(([, json]) => json ?? '').join('')
          expect(set.textLength).toBe(live.length)
        }
      }),
      { numRuns: 300 },
    )
  })

  it('keeps JSON back to back, removals as empty ranges', () => {
    const set = AttributeSet.EMPTY.withWrites([
      ['a', s1, '"x"'],
      ['b', s1, undefined],
      ['c', s1, '[1]'],
    ])
    expect(set.packed()).toEqual({ index: ['a', s1, 3, 'b', s1, 3, 'c', s1, 6], text: '"x"[1]' })
    expect([set.json(0), set.json(1), set.json(2)]).toEqual(['"x"', undefined, '[1]'])
    expect([set.find('c'), set.find('zz'), set.size, set.textLength]).toEqual([2, -1, 3, 6])
  })

  it('replaces in place, appends new names, and leaves the old set unchanged', () => {
    const before = AttributeSet.EMPTY.withWrites([
      ['a', s1, '1'],
      ['b', s1, '2'],
    ])
    const after = before.withWrites([
      ['c', s2, '3'],
      ['a', s2, undefined],
    ])
    expect(after.toWrites()).toEqual([
      ['a', s2, undefined],
      ['b', s1, '2'],
      ['c', s2, '3'],
    ])
    expect(before.toWrites()).toEqual([
      ['a', s1, '1'],
      ['b', s1, '2'],
    ])
    expect(after.maxStamp()).toBe(s2)
  })
})
