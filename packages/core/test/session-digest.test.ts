import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { AttributeSet, type AttrWrite } from '../src/session/attributes.js'
import { recordDigest } from '../src/session/digest.js'
import type { Stamp } from '../src/session/hlc.js'
import type { Delta } from '../src/session/record.js'
import { SessionTable } from '../src/session/store.js'

// Few ids, names, nodes and walls, so merges collide: replacements, ties, removals, losers and repeats.
const stamp = fc.tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 2 }), fc.constantFrom('n1', 'n2', 'n3')) as fc.Arbitrary<Stamp>
// Mostly four names, sometimes one of thirty: sessions past 16 attributes (where lookups change) and deltas naming
// more than the incremental update takes on.
const name = fc.oneof({ arbitrary: fc.constantFrom('cart', 'user', 'views', 'x'), weight: 3 }, { arbitrary: fc.integer({ min: 0, max: 29 }).map((i) => `a${i}`), weight: 2 })
const write = fc.tuple(name, stamp, fc.option(fc.constantFrom('1', '"a"', '[1,2]'), { nil: undefined })) as fc.Arbitrary<AttrWrite>
const delta: fc.Arbitrary<Delta> = fc.record(
  {
    id: fc.constantFrom('a', 'b'),
    // A whole set (a state transfer's record) is built from distinct names.
    attrs: fc.oneof(
      fc.array(write, { maxLength: 12 }),
      fc.uniqueArray(write, { maxLength: 20, selector: (w) => w[0] }).map((writes) => AttributeSet.EMPTY.withWrites(writes)),
    ),
    maxInactiveMs: fc.record({ stamp, value: fc.constantFrom(1000, 2000) }),
    route: fc.record({ stamp, value: fc.constantFrom('r1', 'r2') }),
    lastAccessedAt: fc.integer({ min: 0, max: 10 }),
    // Rare, or every session would be destroyed within a few merges.
    destroyed: fc.oneof({ arbitrary: fc.constant(undefined), weight: 6 }, { arbitrary: stamp, weight: 1 }),
  },
  { requiredKeys: ['id', 'destroyed'] },
)

describe('record digests kept by the session table', () => {
  it('equal the digest computed from scratch after any sequence of merges (the table updates them incrementally)', () => {
    fc.assert(
      fc.property(fc.array(delta, { maxLength: 60 }), (deltas) => {
        const table = new SessionTable()
        for (const d of deltas) {
          table.apply(d)
          const record = table.get(d.id)!
          expect(table.digestOf(d.id)).toEqual(recordDigest(record))
        }
      }),
      { numRuns: 500 },
    )
  })
})
