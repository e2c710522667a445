import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { cborCodec } from '../src/codec/cbor-codec.js'
import { MalformedMessageError } from '../src/errors.js'
import type { AttrWrite } from '../src/session/attributes.js'
import type { Stamp } from '../src/session/hlc.js'
import type { Delta } from '../src/session/record.js'
import { applyDelta } from '../src/session/merge.js'
import { loadSession } from '../src/session/view.js'
import { fromWire, toWire } from '../src/session/wire.js'

const stampArb: fc.Arbitrary<Stamp> = fc.tuple(
  fc.nat({ max: 2 ** 45 }),
  fc.nat({ max: 1000 }),
  fc.string({ minLength: 1, maxLength: 20 }),
)
const jsonArb = fc.option(
  fc.jsonValue().map((v) => JSON.stringify(v)),
  { nil: undefined },
)
const nameArb = fc
  .string({ minLength: 1, maxLength: 30 })
  .filter((n) => !['__proto__', 'constructor', 'prototype'].includes(n))
const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined })

const deltaArb: fc.Arbitrary<Delta> = fc
  .record({
    id: fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/),
    createdAt: optional(fc.nat()),
    attrs: optional(fc.array(fc.tuple(nameArb, stampArb, jsonArb), { maxLength: 5 })),
    maxInactiveMs: optional(fc.record({ stamp: stampArb, value: fc.integer() })),
    route: optional(fc.record({ stamp: stampArb, value: fc.stringMatching(/^[a-z0-9-]{0,10}$/) })),
    lastAccessedAt: optional(fc.nat()),
    destroyed: optional(stampArb),
  })
  .map((parts) => {
    const delta = { id: parts.id } as Delta
    for (const [key, value] of Object.entries(parts)) if (value !== undefined) Object.assign(delta, { [key]: value })
    return delta
  })

const codec = cborCodec()
const throughCbor = (value: unknown) => codec.decode(codec.encode(value))

describe('toWire / fromWire', () => {
  it('round-trips any delta, through CBOR too', () => {
    fc.assert(
      fc.property(deltaArb, (delta) => {
        expect(fromWire(toWire(delta))).toEqual(delta)
        expect(fromWire(throughCbor(toWire(delta)))).toEqual(delta)
      }),
    )
  })

  it('is compact: absent trailing parts are not sent', () => {
    expect(toWire({ id: 'abc', lastAccessedAt: 5 })).toEqual(['abc', null, null, null, null, 5])
    expect(toWire({ id: 'abc' })).toEqual(['abc'])
  })

  it('throws nothing but MalformedMessageError on arbitrary input', () => {
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: true, withMap: true, withBigInt: true }), (value) => {
        expectMalformedOrValid(value)
      }),
      { numRuns: 500 },
    )
  })

  it('throws nothing but MalformedMessageError when one part of a valid delta is replaced', () => {
    fc.assert(
      fc.property(deltaArb, fc.nat(), fc.anything(), fc.nat(), (delta, position, replacement, depth) => {
        const wire = structuredClone(toWire(delta))
        corrupt(wire, position, replacement, depth % 4)
        expectMalformedOrValid(wire)
      }),
      { numRuns: 500 },
    )
  })

  const valid = (): unknown[] => ['abc', 1, [['user', [1, 0, 'n1'], '"ann"']], [[1, 0, 'n1'], 1000], [[1, 0, 'n1'], 'r1'], 2, null]
  const cases: Array<[string, (w: unknown[]) => void]> = [
    ['an empty array', (w) => void w.splice(0)],
    ['too many items', (w) => w.push(1)],
    ['an over-long id', (w) => void (w[0] = 'a'.repeat(257))],
    ['an id with a route dot', (w) => void (w[0] = 'abc.n1')],
    ['a negative createdAt', (w) => void (w[1] = -1)],
    ['a fractional lastAccessedAt', (w) => void (w[5] = 1.5)],
    ['a __proto__ attribute', (w) => void ((w[2] as unknown[][])[0]![0] = '__proto__')],
    ['an over-long attribute name', (w) => void ((w[2] as unknown[][])[0]![0] = 'x'.repeat(257))],
    ['attribute json that is empty', (w) => void ((w[2] as unknown[][])[0]![2] = '')],
    ['attribute json that is not a string', (w) => void ((w[2] as unknown[][])[0]![2] = { a: 1 })],
    ['a stamp of the wrong length', (w) => void ((w[2] as unknown[][])[0]![1] = [1, 0])],
    ['a stamp with an empty node', (w) => void ((w[2] as unknown[][])[0]![1] = [1, 0, ''])],
    ['a string maxInactiveMs', (w) => void ((w[3] as unknown[])[1] = '1000')],
    ['a route with a dot', (w) => void ((w[4] as unknown[])[1] = 'a.b')],
    ['a destroyed that is not a stamp', (w) => void (w[6] = true)],
  ]
  it.each(cases)('rejects %s', (_, mutate) => {
    const wire = valid()
    expect(fromWire(wire)).toMatchObject({ id: 'abc' })
    mutate(wire)
    expect(() => fromWire(wire)).toThrow(MalformedMessageError)
  })

  it('leaves checking JSON text to the load that parses it, which names the attribute', () => {
    const wire = valid()
    ;(wire[2] as unknown[][])[0]![2] = '{oops'
    const record = applyDelta(undefined, fromWire(wire)).record
    expect(() => loadSession(record)).toThrow(/attribute "user" holds invalid JSON/)
  })

  it('rejects a non-array', () => {
    expect(() => fromWire({ id: 'abc' })).toThrow(MalformedMessageError)
  })

  it('does not alias the input', () => {
    const wire = ['abc', null, [['user', [1, 0, 'n1'], '1']]]
    const delta = fromWire(wire)
    ;((wire[2] as unknown[][])[0]![1] as unknown[])[0] = 99
    expect((delta.attrs as AttrWrite[])[0]![1]).toEqual([1, 0, 'n1'])
  })
})

function expectMalformedOrValid(value: unknown): void {
  try {
    fromWire(value)
  } catch (error) {
    expect(error).toBeInstanceOf(MalformedMessageError)
  }
}

/** Replace something `depth` levels into `wire`, choosing children by `position`. */
function corrupt(wire: unknown[], position: number, replacement: unknown, depth: number): void {
  let target: unknown[] = wire
  for (let level = 0; level < depth; level++) {
    const child = target[position % target.length]
    if (!Array.isArray(child) || child.length === 0) break
    target = child
  }
  target[position % target.length] = replacement
}
