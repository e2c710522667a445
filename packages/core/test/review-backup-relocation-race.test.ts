import { describe, expect, it } from 'vitest'
import { ManualClock } from '../src/clock/manual-clock.js'
import { Metrics } from '../src/metrics.js'
import { Relocation } from '../src/replication/backup/relocation.js'
import { type Delta, deltaForLocalChange, diffSession, HybridClock, loadSession, recordFromWire, recordToWire, SessionTable, WireStrings, WireStringTable } from '../src/session/index.js'

/*
 * Review of the backup manager, Relocation (unit): a copy not owned here is pushed whole to its owners, then evicted
 * when the push resolves, unless a request HERE used it meanwhile (notOwnedSince). A replicated write that reaches
 * this node while the push is in flight (a writer whose view still lists this node as an owner, or a stand-in copy
 * from a commit whose owner missed it: see BackupStrategy.#toStandIns) is applied, acknowledged to its writer, and
 * then evicted with the copy: the owners got the snapshot from before it.
 */
describe('review: Relocation drops a write applied while its push was in flight', () => {
  it('a write applied during the push is not evicted unpushed', async () => {
    const clock = new ManualClock()
    const table = new SessionTable({ defaultMaxInactiveMs: 1_800_000 })
    const writer = new HybridClock('writer', clock)
    const change = (n: number, createdAt?: number) => {
      const existing = table.get('s1')
      const baseline = existing ? new Map(loadSession(existing).baseline) : new Map<string, string>()
      return deltaForLocalChange(existing, { id: 's1', diff: diffSession(baseline, { n }), createdAt, route: createdAt ? 'nodeA' : undefined, lastAccessedAt: clock.now() }, writer)!
    }
    table.apply(change(1, clock.now()))

    const ownersGot: Delta[] = []
    let release!: () => void
    const relocation = new Relocation({
      table,
      clock,
      metrics: new Metrics(),
      localId: 'here',
      keepMs: 1_000,
      owners: () => [{ id: 'owner', route: 'nodeA' }],
      push: async (deltas) => {
        // The owners receive the records as they are now (encoded when sent)...
        // (as OwnedTransfer.push does: each record encoded from the table when its chunk is sent).
        for (const d of deltas) {
          const strings = new WireStringTable()
          const wire = recordToWire(table.get(d.id)!, strings)
          ownersGot.push(recordFromWire(JSON.parse(JSON.stringify(wire)), new WireStrings(strings.list)))
        }
        // ...and while the reply is on its way, a replicated write (acknowledged to its writer) lands here.
        await new Promise<void>((resolve) => (release = resolve))
      },
    })
    relocation.run() // first pass: notes the copy as not owned here
    await clock.advance(600)
    await clock.advance(600)
    relocation.run() // kept long enough: pushed
    await clock.advance(1)
    expect(ownersGot.map((d) => d.id)).toEqual(['s1'])
    table.apply(change(2))
    expect(loadSession(table.get('s1')!).data).toEqual({ n: 2 })
    release()
    await clock.advance(1)

    const owner = new SessionTable({ defaultMaxInactiveMs: 1_800_000 })
    for (const d of ownersGot) owner.apply(d)
    const ownersHaveTwo = loadSession(owner.get('s1')!).data.n === 2
    const keptHere = table.getLive('s1') !== undefined
    expect({ ownersHaveTwo, keptHere }).not.toEqual({ ownersHaveTwo: false, keptHere: false })
  })
})
