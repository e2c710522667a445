import type { Clock } from '../../clock/clock.js'
import type { Metrics } from '../../metrics.js'
import { type Delta, recordToDelta, type SessionTable } from '../../session/index.js'
import type { Placed } from './placement.js'

export interface RelocationInit {
  table: SessionTable
  clock: Clock
  metrics: Metrics
  localId: string
  /** A copy not used here for this long, and not owned here, may go (once its owners hold it). */
  keepMs: number
  owners(id: string): Placed[]
  /** Hand whole records to these members; resolves once every one of them applied them all, rejects otherwise. */
  push(deltas: Delta[], targets: string[]): Promise<void>
}

/** Copies let go of per pass, at most: placement changes move sessions in bounded batches while traffic goes on. */
const BATCH = 500

/**
 * Copies this node holds but does not own (it served a session for a round-robin balancer, it was an owner before
 * a member joined or the session was rebound): each is pushed to its owners, whole, and dropped once every owner
 * applied it, so a copy leaves only when the owners are known to hold it. Tombstones stay until expiry purges them.
 */
export class Relocation {
  readonly #init: RelocationInit
  /** Session → monotonic time this node last served or first found it not owned here. */
  readonly #notOwnedSince = new Map<string, number>()
  #running = false
  #dropped = 0
  #pushed = 0

  constructor(init: RelocationInit) {
    this.#init = init
  }

  /** A request here used a session this node does not own: keep the copy a while longer. */
  used(id: string): void {
    this.#notOwnedSince.set(id, this.#init.clock.monotonic())
  }

  describe(): { relocating: boolean; copiesDropped: number; copiesPushed: number } {
    return { relocating: this.#running, copiesDropped: this.#dropped, copiesPushed: this.#pushed }
  }

  /** One pass (skipped while one runs): push and drop up to a batch of copies kept long enough. */
  run(): void {
    if (this.#running) return
    this.#running = true
    void this.#pass(false).finally(() => (this.#running = false))
  }

  /** Leaving: push every copy only this node might hold to its owners, waiting at most `timeoutMs`. */
  async handOffAll(timeoutMs: number): Promise<void> {
    let timer: { cancel(): void } | undefined
    const timeout = new Promise<void>((resolve) => (timer = this.#init.clock.setTimeout(resolve, timeoutMs)))
    await Promise.race([this.#pass(true), timeout])
    timer?.cancel()
  }

  async #pass(leaving: boolean): Promise<void> {
    const { table, clock, localId } = this.#init
    const now = clock.monotonic()
    const groups = new Map<string, { targets: string[]; ids: string[] }>()
    let picked = 0
    for (const record of table) {
      const owners = this.#init.owners(record.id)
      const ownedHere = owners.some((m) => m.id === localId)
      if (!leaving) {
        if (ownedHere) {
          this.#notOwnedSince.delete(record.id)
          continue
        }
        const since = this.#notOwnedSince.get(record.id)
        if (since === undefined) this.#notOwnedSince.set(record.id, now)
        if (since === undefined || now - since < this.#init.keepMs || picked >= BATCH) continue
      }
      const targets = owners.filter((m) => m.id !== localId).map((m) => m.id)
      if (targets.length === 0) continue
      picked++
      const key = targets.join(',')
      let group = groups.get(key)
      if (!group) groups.set(key, (group = { targets, ids: [] }))
      group.ids.push(record.id)
    }
    for (const id of this.#notOwnedSince.keys()) if (!table.getLive(id)) this.#notOwnedSince.delete(id)
    await Promise.all(
      [...groups.values()].map(async ({ targets, ids }) => {
        const records = ids.flatMap((id) => {
          const record = table.getLive(id)
          return record ? [recordToDelta(record)] : []
        })
        if (records.length === 0) return
        const pushedAt = clock.monotonic()
        try {
          await this.#init.push(records, targets)
        } catch {
          return // an owner could not be asked: the copy stays, and the next pass tries again
        }
        this.#pushed += records.length
        this.#init.metrics.increment('backup.copies-pushed', records.length)
        if (leaving) return
        let dropped = 0
        for (const { id } of records) {
          // Used here again meanwhile, or owned here now: keep it.
          if ((this.#notOwnedSince.get(id) ?? 0) >= pushedAt) continue
          if (this.#init.owners(id).some((m) => m.id === localId)) continue
          if (table.evict(id)) dropped++
          this.#notOwnedSince.delete(id)
        }
        this.#dropped += dropped
        this.#init.metrics.increment('backup.copies-dropped', dropped)
      }),
    )
  }
}
