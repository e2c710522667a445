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
 * How often a pass looks at every record (placement of each computed again), when placement did not move: the
 * other passes look only at the copies known not to be owned here, so a node whose table holds only its own sessions
 * (a primary behind a sticky balancer) spends nothing. This catch-all finds copies that arrived another way (a
 * stand-in's copy, a session rebound away from this node).
 */
const FULL_SCAN_MS = 30_000

/**
 * Copies this node holds but does not own (it served a session for a round-robin balancer, it was an owner before
 * a member joined or the session was rebound): each is pushed to its owners, whole, and dropped once every owner
 * applied it, so a copy leaves only when the owners are known to hold it. A copy that is still what a fetch from its
 * owners made it (its digest unchanged since: only read here) is dropped without a push; one that changed while its
 * push was on its way stays for the next pass. Tombstones stay until expiry purges them.
 */
export class Relocation {
  readonly #init: RelocationInit
  /** Session → monotonic time this node last served or first found it not owned here. */
  readonly #notOwnedSince = new Map<string, number>()
  /** Session → its digest when a fetch from its owners last left it as they hold it (nothing else applied here). */
  readonly #cleanAt = new Map<string, readonly [number, number]>()
  /** Session → reads here waiting for a fetch of it before they serve its copy. */
  readonly #reading = new Map<string, number>()
  /** Monotonic time of the last pass over every record. */
  #scannedAt = Number.NEGATIVE_INFINITY
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

  /**
   * A read here fetches `id` before it serves this node's copy: the copy is not let go until the returned function is
   * called, which notes it as used if there is one (an id nobody holds, a probe or an expired cookie, adds no entry
   * that only a relocation pass, held back during a long catch-up, would clear).
   */
  reading(id: string): () => void {
    this.#reading.set(id, (this.#reading.get(id) ?? 0) + 1)
    return () => {
      const left = (this.#reading.get(id) ?? 1) - 1
      if (left > 0) this.#reading.set(id, left)
      else this.#reading.delete(id)
      if (this.#init.table.getLive(id)) this.used(id)
    }
  }

  /**
   * A fetch from the owners is about to merge their copies of `id` into this one: returns what to call once it has.
   * The copy counts as clean (the owners hold all of it) if it was clean, or absent, before the merge.
   */
  fetching(id: string): () => void {
    const before = this.#init.table.digestOf(id)
    const wasClean = before === undefined || sameDigest(before, this.#cleanAt.get(id))
    return () => {
      const after = this.#init.table.digestOf(id)
      if (wasClean && after) this.#cleanAt.set(id, after)
      else this.#cleanAt.delete(id)
    }
  }

  describe(): { relocating: boolean; copiesDropped: number; copiesPushed: number } {
    return { relocating: this.#running, copiesDropped: this.#dropped, copiesPushed: this.#pushed }
  }

  /** A member came or went: which copies are owned here may have changed, so the next pass looks at every record. */
  placementChanged(): void {
    this.#scannedAt = Number.NEGATIVE_INFINITY
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
    const everyRecord = leaving || now - this.#scannedAt >= FULL_SCAN_MS
    if (everyRecord) this.#scannedAt = now
    const candidates = everyRecord ? table : [...this.#notOwnedSince.keys()].flatMap((id) => table.get(id) ?? [])
    for (const record of candidates) {
      const owners = this.#init.owners(record.id)
      const ownedHere = owners.some((m) => m.id === localId)
      if (!leaving) {
        if (ownedHere) {
          this.#notOwnedSince.delete(record.id)
          continue
        }
        if (this.#reading.has(record.id)) continue
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
    for (const id of this.#cleanAt.keys()) if (!this.#notOwnedSince.has(id)) this.#cleanAt.delete(id)
    await Promise.all(
      [...groups.values()].map(async ({ targets, ids }) => {
        let dropped = 0
        const records = ids.flatMap((id) => {
          const record = table.getLive(id)
          if (!record) return []
          // Only read here since a fetch from its owners: they hold all of it already (its access time too, once sent).
          if (!leaving && !table.hasDirtyAccess(id) && sameDigest(table.digestOf(id), this.#cleanAt.get(id))) {
            if (table.evict(id)) dropped++
            this.#notOwnedSince.delete(id)
            this.#cleanAt.delete(id)
            return []
          }
          return [recordToDelta(record)]
        })
        if (dropped > 0) {
          this.#dropped += dropped
          this.#init.metrics.increment('backup.copies-dropped', dropped)
          this.#init.metrics.increment('backup.clean-copies-dropped', dropped)
          dropped = 0
        }
        if (records.length === 0) return
        const pushedAt = clock.monotonic()
        const digests = new Map(records.map(({ id }) => [id, table.digestOf(id)]))
        try {
          await this.#init.push(records, targets)
        } catch {
          return // an owner could not be asked: the copy stays, and the next pass tries again
        }
        this.#pushed += records.length
        this.#init.metrics.increment('backup.copies-pushed', records.length)
        if (leaving) return
        for (const { id } of records) {
          // Used here again meanwhile, or owned here now, or changed since it was pushed (a write that still reached
          // this node, which the owners may not have): keep it.
          if ((this.#notOwnedSince.get(id) ?? 0) >= pushedAt) continue
          if (this.#init.owners(id).some((m) => m.id === localId)) continue
          if (!sameDigest(table.digestOf(id), digests.get(id))) continue
          if (table.evict(id)) dropped++
          this.#notOwnedSince.delete(id)
          this.#cleanAt.delete(id)
        }
        this.#dropped += dropped
        this.#init.metrics.increment('backup.copies-dropped', dropped)
      }),
    )
  }
}

function sameDigest(a: readonly [number, number] | undefined, b: readonly [number, number] | undefined): boolean {
  return a !== undefined && b !== undefined && a[0] === b[0] && a[1] === b[1]
}
