import { describe, expect, it } from 'vitest'
import { checkHistory, type Cut, type Operation, type ViewChange } from './support/history-checker.js'

// The checker judges the fault suite, so what it excuses is pinned here: a rule that excused too much would turn
// every schedule green.

const DETECTION_MS = 3_000
const HEAL_MS = 400
/** A node removes a member no sooner than this into a cut, and then still asks it for this long. */
const REMOVAL_MS = 1_200
const GHOST_MS = 1_000
const withTimings = (changes: readonly ViewChange[]) => ({ changes, removalMs: REMOVAL_MS, ghostMs: GHOST_MS })

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

const check = (ops: Operation[], cuts: Cut[], views?: ViewChange[], lossy?: Array<{ start: number; end: number }>) =>
  checkHistory(ops, [{ s: { a: 'v2' } }, { s: { a: 'v2' } }], { detectionMs: DETECTION_MS, healMs: HEAL_MS, cuts, views: views && withTimings(views), lossy })
const kinds = (violations: Array<{ kind: string }>) => violations.map((v) => v.kind)

/** Node `node`'s view of node `member`: admitted at 0, then each of `changes` in turn removes and readmits it. */
function viewOf(node: number, member: number, ...changes: number[]): ViewChange[] {
  return [0, ...changes].map((at, i) => ({ node, member, id: `n${member}`, kind: i % 2 === 0 ? 'join' : 'leave', at }))
}
/** Nodes 0 and 1 removed each other at `at` and never readmitted each other. */
const apart = (at: number) => [...viewOf(0, 1, at), ...viewOf(1, 0, at)]

describe('history checker', () => {
  it('flags a stale read with no cut', () => {
    expect(kinds(check(staleReadAt(10_500), []))).toEqual(['stale-read'])
  })

  it('flags a stale read across a cut shorter than failure detection', () => {
    expect(kinds(check(staleReadAt(10_500), cut(9_000, 11_000)))).toEqual(['stale-read'])
  })

  it('excuses a write made across a cut longer than failure detection, or until healMs after it ends', () => {
    expect(check(staleReadAt(10_500), cut(5_000, 12_000))).toEqual([])
    // The write begins at 9,990: 290 ms after the cut ended the sides may not have met again yet; 490 ms after, they have.
    expect(check(staleReadAt(10_500), cut(2_000, 9_700))).toEqual([])
    expect(kinds(check(staleReadAt(10_500), cut(2_000, 9_500)))).toEqual(['stale-read'])
  })

  describe('a read in a short cut that follows a long one (the write made in between)', () => {
    const twoCuts = (gapMs: number, secondEnd = 11_000) => [...cut(0, 9_000), ...cut(9_000 + gapMs, secondEnd)]

    it('is excused while neither node has readmitted the other it removed during the long cut', () => {
      expect(check(staleReadAt(10_500), twoCuts(300), apart(3_000))).toEqual([])
      // A lossy link can keep them apart for a while: 900 ms of link and no readmission. A heartbeat may have crossed
      // meanwhile, though: the reader asks the writer for GHOST_MS more after the second cut began.
      expect(check(staleReadAt(11_500), twoCuts(900, 12_000), apart(3_000))).toEqual([])
      expect(kinds(check(staleReadAt(10_500), twoCuts(900), apart(3_000)))).toEqual(['stale-read'])
      // The reader readmitted the writer only once the read was answered.
      expect(check(staleReadAt(10_500), twoCuts(300), [...viewOf(0, 1, 3_000), ...viewOf(1, 0, 3_000, 10_600)])).toEqual([])
    })

    it('is judged on its own once the reader readmitted the writer, even 150 ms after the long cut ended', () => {
      expect(kinds(check(staleReadAt(10_500), twoCuts(300), [...viewOf(0, 1, 3_000), ...viewOf(1, 0, 3_000, 9_150)]))).toEqual(['stale-read'])
      // By a message in flight when the second cut began; or during the read itself.
      expect(kinds(check(staleReadAt(10_500), twoCuts(300), [...viewOf(0, 1, 3_000), ...viewOf(1, 0, 3_000, 9_310)]))).toEqual(['stale-read'])
      expect(kinds(check(staleReadAt(10_500), twoCuts(300), [...viewOf(0, 1, 3_000), ...viewOf(1, 0, 3_000, 10_502)]))).toEqual(['stale-read'])
    })

    it("depends on the reader's view only (a writer acknowledges without a member once its lease on reads ran out)", () => {
      // The writer readmitted the reader in the gap, or never removed it (it excluded it after an ack timeout).
      expect(check(staleReadAt(10_500), twoCuts(300), [...viewOf(0, 1, 3_000, 9_150), ...viewOf(1, 0, 3_000)])).toEqual([])
      expect(check(staleReadAt(10_500), twoCuts(300), [...viewOf(0, 1), ...viewOf(1, 0, 3_000)])).toEqual([])
    })

    it('is judged on its own when the reader never removed the writer', () => {
      expect(kinds(check(staleReadAt(10_500), twoCuts(300), [...viewOf(0, 1, 3_000), ...viewOf(1, 0)]))).toEqual(['stale-read'])
    })

    it('is judged on its own when the reader readmitted the writer and removed it again in the short cut', () => {
      const views = [...viewOf(0, 1, 3_000), ...viewOf(1, 0, 3_000, 9_150, 11_300)]
      expect(kinds(check(staleReadAt(11_500), twoCuts(300, 12_200), views))).toEqual(['stale-read'])
    })

    it('is judged on its own when the link was not cut at the read (a node readmits quickly on a clean link)', () => {
      const cuts = cut(0, 5_000)
      expect(kinds(check(staleReadAt(10_500), cuts, apart(3_000)))).toEqual(['stale-read'])
      // (Nor when it was only lossy: a heartbeat that gets through renews the ghost, and the reader asks the writer.
      // The checker takes no lossy windows for that reason.)
    })

    it("is judged on its own when only the reader's messages were cut: it still hears the writer, and asks it", () => {
      const readerSide = (start: number, end: number): Cut[] => [{ from: 1, to: 0, start, end }]
      expect(kinds(check(staleReadAt(10_500), readerSide(0, 11_000), apart(3_000)))).toEqual(['stale-read'])
      const writerSide = (start: number, end: number): Cut[] => [{ from: 0, to: 1, start, end }]
      expect(check(staleReadAt(10_500), writerSide(0, 11_000), apart(3_000))).toEqual([])
    })

    it('is judged on its own when the reader restarted since (it starts with nobody in view, and catches up)', () => {
      expect(kinds(check(staleReadAt(10_500), twoCuts(300), [...apart(3_000), { node: 1, kind: 'start', at: 8_000 }]))).toEqual(['stale-read'])
    })

    it('without recorded views, is excused only when the cuts were back to back (200 ms)', () => {
      expect(check(staleReadAt(10_500), twoCuts(150))).toEqual([])
      expect(kinds(check(staleReadAt(10_500), twoCuts(300)))).toEqual(['stale-read'])
    })

    it('chains: cuts with no readmission between them keep the nodes apart', () => {
      const cuts = [...cut(0, 6_000), ...cut(6_500, 7_000), ...cut(7_800, 10_700)] // the last alone is shorter than detection
      expect(check(staleReadAt(10_500), cuts, apart(3_000))).toEqual([])
      expect(kinds(check(staleReadAt(10_500), cuts, [...viewOf(0, 1, 3_000), ...viewOf(1, 0, 3_000, 7_400)]))).toEqual(['stale-read'])
    })
  })

  it('does not merge two short cuts 300 ms apart into one long one', () => {
    // Each is shorter than failure detection; merged they would make 3,800 ms, longer than detection, and excuse the
    // read. The removal, 1,000 ms into the first, came sooner than failure detection can: not the cut's doing.
    expect(kinds(check(staleReadAt(10_500), [...cut(7_000, 9_000), ...cut(9_300, 10_800)], apart(8_000)))).toEqual(['stale-read'])
  })

  describe('a removal during a cut shorter than failure detection takes twice (it found the other side at once)', () => {
    const cuts = [...cut(6_000, 8_000), ...cut(8_300, 10_800)]

    it('keeps the nodes apart once the reader stopped asking the writer it removed', () => {
      expect(check(staleReadAt(10_500), cuts, apart(7_500))).toEqual([])
    })

    it('does not excuse a read while the reader still asks the writer it removed (ghostMs)', () => {
      expect(kinds(check(staleReadAt(10_500), cuts, apart(9_600)))).toEqual(['stale-read'])
    })

    it('counts the ghost from the last moment the writer could reach the reader (a heartbeat renews it)', () => {
      const later = [...cut(6_000, 8_000), ...cut(9_200, 10_800)]
      expect(check(staleReadAt(10_500), later, apart(7_500))).toEqual([])
      expect(kinds(check(staleReadAt(10_100), later, apart(7_500)))).toEqual(['stale-read'])
    })

    it('does not excuse a removal sooner into the cut than failure detection allows', () => {
      expect(kinds(check(staleReadAt(10_500), cuts, apart(6_900)))).toEqual(['stale-read'])
    })

    it('counts the silence again from the end of a pause: what it held reaches the reader then', () => {
      const paused = (start: number, end: number): Cut[] => cut(start, end).map((c) => ({ ...c, held: true }))
      const cuts = [...cut(5_000, 8_000), ...paused(8_000, 9_600), ...cut(9_600, 11_000)]
      expect(kinds(check(staleReadAt(10_500), cuts, apart(7_000)))).toEqual(['stale-read'])
      expect(check(staleReadAt(10_700), cuts, apart(7_000))).toEqual([])
      // Had the frames been lost rather than held, the silence would have gone on from 5,000.
      expect(check(staleReadAt(10_500), [...cut(5_000, 8_000), ...cut(8_000, 9_600), ...cut(9_600, 11_000)], apart(7_000))).toEqual([])
    })

    it("allows the read just after the silence ends, before the writer's next heartbeat arrives (healMs)", () => {
      expect(check(staleReadAt(10_500), cut(0, 10_200), apart(3_000))).toEqual([])
      expect(kinds(check(staleReadAt(10_700), cut(0, 10_200), apart(3_000)))).toEqual(['stale-read'])
    })

    it('judges by the views, not by cuts merged across a gap in which the reader readmitted the writer', () => {
      const cuts = [...cut(6_000, 9_400), ...cut(9_560, 12_000)]
      expect(kinds(check(staleReadAt(10_500), cuts, [...viewOf(0, 1, 7_500), ...viewOf(1, 0, 7_500, 9_450)]))).toEqual(['stale-read'])
    })

    it('counts a lossy stretch just before the cut as the start of failure detection, not as silence', () => {
      const lossy = [{ start: 5_000, end: 6_000 }]
      expect(check(staleReadAt(10_500), cut(6_000, 11_000), apart(6_500), lossy)).toEqual([])
      expect(kinds(check(staleReadAt(10_500), cut(6_000, 11_000), apart(6_500)))).toEqual(['stale-read'])
    })

    it('does not excuse a removal that came after the cut had healed, not during it', () => {
      const healed = [...cut(2_000, 6_000), ...cut(8_300, 10_800)]
      expect(kinds(check(staleReadAt(10_500), healed, apart(7_000)))).toEqual(['stale-read'])
      expect(check(staleReadAt(10_500), healed, apart(6_300))).toEqual([])
    })
  })

  it('two writes are concurrent only if the later one was made by a node that had the earlier writer out of its view', () => {
    // Node 0 writes va at 5,000 and node 1 writes vb at 5,500, in a short cut after a long one; va is left at the end.
    const ops: Operation[] = [
      { kind: 'write', node: 0, session: 's', attr: 'a', value: 'va', invokeAt: 5_000, completeAt: 5_010, ok: true },
      { kind: 'write', node: 1, session: 's', attr: 'a', value: 'vb', invokeAt: 5_500, completeAt: 5_510, ok: true },
    ]
    const cuts = [...cut(0, 4_000), ...cut(4_300, 6_000)]
    const end = (views: ViewChange[]) => kinds(checkHistory(ops, [{ s: { a: 'va' } }], { detectionMs: DETECTION_MS, healMs: HEAL_MS, cuts, views: withTimings(views) }))
    expect(end(apart(3_000))).toEqual([]) // either may win
    expect(end([...viewOf(0, 1, 3_000), ...viewOf(1, 0)])).toEqual(['lost-write']) // node 1 had node 0 in view: vb must win
    // Judged when the later write began (its load read what it builds on), not when it was acknowledged.
    expect(end([...viewOf(0, 1, 3_000), ...viewOf(1, 0, 3_000, 5_505)])).toEqual([])
    expect(end([...viewOf(0, 1, 3_000), ...viewOf(1, 0, 3_000, 5_495)])).toEqual(['lost-write'])
  })

  describe('a change acknowledged by a node cut off from every other, then lost with it', () => {
    // Node 1 writes v2 alone at 5,000 during a long cut and dies at 12,500, more than detection after the first cut
    // ended but not after the second; the end state has v1.
    const ops: Operation[] = [
      { kind: 'write', node: 1, session: 's', attr: 'a', value: 'v1', invokeAt: 0, completeAt: 10, ok: true },
      { kind: 'write', node: 1, session: 's', attr: 'a', value: 'v2', invokeAt: 5_000, completeAt: 5_010, ok: true },
    ]
    const lost = (cuts: Cut[]) =>
      kinds(checkHistory(ops, [{ s: { a: 'v1' } }], { detectionMs: DETECTION_MS, healMs: HEAL_MS, cuts, kills: [{ node: 1, at: 12_500 }] }))

    it('is lost by design when the cuts were back to back', () => {
      expect(lost([...cut(1_000, 9_000), ...cut(9_150, 11_000)])).toEqual([])
    })

    it('is lost by design even though a node that joined after it (and so never saw it) was not cut off', () => {
      const cuts = [...cut(1_000, 12_000), { from: 1, to: 2, start: 1_000, end: 12_000 }, { from: 2, to: 1, start: 1_000, end: 12_000 }]
      const late = (joinedAt: number) =>
        kinds(
          checkHistory(ops, [{ s: { a: 'v1' } }], {
            detectionMs: DETECTION_MS,
            healMs: HEAL_MS,
            cuts,
            kills: [{ node: 1, at: 12_500 }],
            views: withTimings([0, 1, 2].map((node) => ({ node, kind: 'start' as const, at: 0 })).concat({ node: 3, kind: 'start', at: joinedAt })),
          }),
        )
      expect(late(8_000)).toEqual([])
      // One that was there when the change was made was not cut off from the writer: it must hold it.
      expect(late(0)).toEqual(['lost-write'])
    })

    it('must survive when the link was back in between (a readmission starts anti-entropy)', () => {
      expect(lost([...cut(1_000, 9_000), ...cut(9_500, 11_000)])).toEqual(['lost-write'])
    })
  })
})
