import { describe, expect, it } from 'vitest'
import { checkHistory, type Cut, type Operation } from './support/history-checker.js'

// The checker judges the fault suite, so what it excuses is pinned here: a rule that excused too much would turn
// every schedule green.

const DETECTION_MS = 3_000
const HEAL_MS = 400

/** Node 1 cut off from node 0 (both directions) from `start` to `end`. */
const cut = (start: number, end: number): Cut[] => [
  { from: 0, to: 1, start, end },
  { from: 1, to: 0, start, end },
]

/** Node 0 acknowledges a write at 10,000 (begun at 9,990); node 1 then reads the value written before it. */
function staleReadAt(readAt: number): Operation[] {
  return [
    { kind: 'write', node: 0, session: 's', attr: 'a', value: 'v1', invokeAt: 0, completeAt: 10, ok: true },
    { kind: 'write', node: 0, session: 's', attr: 'a', value: 'v2', invokeAt: 9_990, completeAt: 10_000, ok: true },
    { kind: 'read', node: 1, session: 's', invokeAt: readAt, completeAt: readAt + 5, ok: true, attrs: { a: 'v1' } },
  ]
}

const check = (ops: Operation[], cuts: Cut[]) =>
  checkHistory(ops, [{ s: { a: 'v2' } }, { s: { a: 'v2' } }], { detectionMs: DETECTION_MS, healMs: HEAL_MS, cuts })

describe('history checker', () => {
  it('flags a stale read with no cut', () => {
    expect(check(staleReadAt(10_500), []).map((v) => v.kind)).toEqual(['stale-read'])
  })

  it('flags a stale read across a cut shorter than failure detection', () => {
    expect(check(staleReadAt(10_500), cut(9_000, 11_000)).map((v) => v.kind)).toEqual(['stale-read'])
  })

  it('excuses a write made across a cut longer than failure detection, or until healMs after it ends', () => {
    expect(check(staleReadAt(10_500), cut(5_000, 12_000))).toEqual([])
    // The write begins at 9,990: 290 ms after the cut ended the sides may not have met again yet; 490 ms after, they have.
    expect(check(staleReadAt(10_500), cut(2_000, 9_700))).toEqual([])
    expect(check(staleReadAt(10_500), cut(2_000, 9_500)).map((v) => v.kind)).toEqual(['stale-read'])
  })

  it('treats a short cut that begins before the sides of a long cut can have met again as the same isolation', () => {
    // 300 ms apart: within healMs of the long cut's end, so the second (short) cut continues it.
    expect(check(staleReadAt(10_500), [...cut(0, 9_000), ...cut(9_300, 11_000)])).toEqual([])
  })

  it('judges a short cut alone once the sides of an earlier long cut had time to meet', () => {
    // 500 ms apart: more than healMs, so the nodes must have readmitted each other in between.
    expect(check(staleReadAt(10_500), [...cut(0, 9_000), ...cut(9_500, 11_000)]).map((v) => v.kind)).toEqual(['stale-read'])
  })

  it('does not merge two short cuts 300 ms apart into one long one', () => {
    // Each is shorter than failure detection and so is the pair's span but for the gap: 2,000 + 300 + 1,500.
    // Merged they would make 3,800 ms, longer than detection, and excuse the read.
    expect(check(staleReadAt(10_500), [...cut(7_000, 9_000), ...cut(9_300, 10_800)]).map((v) => v.kind)).toEqual(['stale-read'])
  })
})
