import { describe, expect, it } from 'vitest'
import { type OpenTransfer, planRoom, STALLED_AFTER_MS, type StateTransferLimits } from '../src/replication/state-transfer-limits.js'

const limits: StateTransferLimits = { maxTransfers: 3, maxTransfersPerPeer: 1, maxSnapshotBytes: 1_000 }
const NOW = 100_000
const t = (name: string, peer: string, { member = true, bytes = 100, idleMs = 0 } = {}) => ({
  name,
  peer,
  member,
  bytes,
  touchedAt: NOW - idleMs,
})
const names = (ts: ReadonlyArray<{ name: string }>) => ts.map((x) => x.name)
const plan = (open: Array<OpenTransfer & { name: string }>, requester: { peer: string; member: boolean }, expectedBytes = 100, l = limits) => {
  const p = planRoom(open, requester, expectedBytes, NOW, l)
  return 'refuse' in p ? p : { replace: names(p.replace), evict: names(p.evict) }
}

describe('room for a state transfer', () => {
  it('starts one when there is room, dropping nothing', () => {
    expect(plan([t('a', 'A')], { peer: 'B', member: true })).toEqual({ replace: [], evict: [] })
  })

  it("replaces the requester's own older transfer beyond its cap (it gave up on it)", () => {
    expect(plan([t('a1', 'A', { idleMs: 10 }), t('b', 'B')], { peer: 'A', member: true })).toEqual({ replace: ['a1'], evict: [] })
    const two = { ...limits, maxTransfersPerPeer: 2 }
    expect(plan([t('a1', 'A', { idleMs: 20 }), t('a2', 'A', { idleMs: 10 })], { peer: 'A', member: true }, 100, two)).toEqual({ replace: ['a1'], evict: [] })
  })

  it('refuses for now when every transfer is in progress', () => {
    const busy = [t('a', 'A'), t('b', 'B'), t('c', 'C', { idleMs: STALLED_AFTER_MS - 1 })]
    expect(plan(busy, { peer: 'D', member: true })).toEqual({ refuse: 'concurrency' })
  })

  it('makes room by dropping a stalled transfer, the least recently used first', () => {
    const open = [t('a', 'A'), t('b', 'B', { idleMs: STALLED_AFTER_MS }), t('c', 'C', { idleMs: STALLED_AFTER_MS + 5 })]
    expect(plan(open, { peer: 'D', member: false })).toEqual({ replace: [], evict: ['c'] })
  })

  it("a member's request drops a transfer of a requester that is not a member, even one in progress; not the other way round", () => {
    const open = [t('a', 'A'), t('x', 'X', { member: false }), t('b', 'B')]
    expect(plan(open, { peer: 'D', member: true })).toEqual({ replace: [], evict: ['x'] })
    expect(plan(open, { peer: 'Y', member: false })).toEqual({ refuse: 'concurrency' })
  })

  it('bounds the bytes snapshots hold: refuses when the next would go beyond, but one may always start', () => {
    const open = [t('a', 'A', { bytes: 600 })]
    expect(plan(open, { peer: 'B', member: true }, 500)).toEqual({ refuse: 'memory' })
    expect(plan(open, { peer: 'B', member: true }, 400)).toEqual({ replace: [], evict: [] })
    expect(plan([], { peer: 'B', member: true }, 50_000)).toEqual({ replace: [], evict: [] })
    // The requester's own transfer going away is room too.
    expect(plan(open, { peer: 'A', member: true }, 900)).toEqual({ replace: ['a'], evict: [] })
    // A stalled one makes room for bytes as for a place.
    expect(plan([t('s', 'S', { bytes: 600, idleMs: STALLED_AFTER_MS })], { peer: 'B', member: true }, 500)).toEqual({ replace: [], evict: ['s'] })
  })
})
