import { describe, expect, it } from 'vitest'
import type { Stamp } from '../src/session/hlc.js'
import { SessionTable } from '../src/session/store.js'

const s = (wall: number): Stamp => [wall, 0, 'n1']

function tableWith(...ids: string[]): SessionTable {
  const table = new SessionTable({ defaultMaxInactiveMs: 500 })
  for (const id of ids) {
    table.apply({ id, createdAt: 0, lastAccessedAt: 0, maxInactiveMs: { stamp: s(1), value: 1000 } })
  }
  return table
}

describe('SessionTable', () => {
  it('counts live sessions and tombstones separately and iterates live ones', () => {
    const table = tableWith('a', 'b', 'c')
    expect(table.apply({ id: 'b', destroyed: s(2) }).map((c) => c.type)).toEqual(['destroyed'])
    table.apply({ id: 'b', destroyed: s(3) })
    table.apply({ id: 'z', destroyed: s(3) })
    expect(table.size).toBe(2)
    expect(table.tombstoneCount).toBe(2)
    expect([...table].map((r) => r.id)).toEqual(['a', 'c'])
    expect([...table.records()].map((r) => r.id)).toEqual(['a', 'b', 'c', 'z'])
    expect(table.get('b')?.destroyed).toEqual(s(3))
    expect(table.getLive('b')).toBeUndefined()
  })

  it('purges tombstones by the age of their destroy stamp', () => {
    const table = tableWith('a', 'b')
    table.apply({ id: 'a', destroyed: s(100) })
    table.apply({ id: 'b', destroyed: s(900) })
    expect(table.purgeTombstones(500, 1000)).toBe(1)
    expect(table.get('a')).toBeUndefined()
    expect(table.tombstoneCount).toBe(1)
    expect(table.size).toBe(0)
  })

  it('keeps an old tombstone until every member is known to hold it (its arrival position is confirmed)', () => {
    const table = tableWith('a', 'b')
    table.apply({ id: 'a', destroyed: s(100) })
    const afterA = table.changeSeq
    table.apply({ id: 'b', destroyed: s(200) })
    expect(table.changeSeq).toBe(afterA + 1)
    expect(table.purgeTombstones(500, 1000, afterA - 1)).toBe(0) // nobody confirmed either
    expect(table.purgeTombstones(500, 1000, afterA)).toBe(1) // 'a' arrived at afterA: confirmed
    expect(table.get('a')).toBeUndefined()
    expect(table.get('b')?.destroyed).toEqual(s(200))
    expect(table.purgeTombstones(500, 1000)).toBe(1) // no member to wait for
  })

  it('expires idle sessions after maxInactiveMs plus grace; <= 0 never expires', () => {
    const table = tableWith('a', 'b', 'forever')
    table.apply({ id: 'forever', maxInactiveMs: { stamp: s(2), value: 0 } })
    table.touch('b', 500)
    table.apply({ id: 'early', lastAccessedAt: 0 }) // maxInactiveMs not known yet: the default applies
    expect(table.expired(999).map((r) => r.id)).toEqual(['early'])
    expect(table.expired(1000).map((r) => r.id)).toEqual(['a', 'early'])
    expect(table.expired(1000, 100).map((r) => r.id)).toEqual(['early'])
    expect(table.expired(1_000_000).map((r) => r.id)).toEqual(['a', 'b', 'early'])
  })

  it('touch only raises lastAccessedAt and coalesces dirty access times', () => {
    const table = tableWith('a', 'b')
    expect(table.touch('a', 10)).toBe(true)
    table.touch('a', 30)
    table.touch('a', 20)
    table.touch('b', 5)
    expect(table.touch('unknown', 5)).toBe(false)
    expect(table.takeDirtyAccesses()).toEqual([
      ['a', 30],
      ['b', 5],
    ])
    expect(table.takeDirtyAccesses()).toEqual([])
    table.touch('a', 40)
    table.apply({ id: 'a', destroyed: s(2) })
    expect(table.takeDirtyAccesses()).toEqual([])
    expect(table.touch('a', 50)).toBe(false)
  })

  it('remote access times merge by max and do not become dirty', () => {
    const table = tableWith('a')
    table.apply({ id: 'a', lastAccessedAt: 70 })
    table.apply({ id: 'a', lastAccessedAt: 60 })
    expect(table.get('a')?.lastAccessedAt).toBe(70)
    expect(table.takeDirtyAccesses()).toEqual([])
  })
})
