import { ReplayError } from '../errors.js'

/**
 * Connection ids whose first frame was accepted recently, shared by all openers of one protector.
 * An id is remembered until its first frame's timestamp leaves the replay window, i.e. exactly as long
 * as a recording of that first frame could still pass the freshness check.
 */
export class RecentConnectionIds {
  readonly #expiresAt = new Map<string, number>()
  readonly #maxEntries: number

  constructor(maxEntries: number) {
    this.#maxEntries = maxEntries
  }

  get size(): number {
    return this.#expiresAt.size
  }

  /** Remember `id` until `expiresAtMs`; throws `ReplayError` if it is already remembered. */
  admit(id: string, nowMs: number, expiresAtMs: number): void {
    this.#pruneOldest(nowMs)
    const known = this.#expiresAt.get(id)
    if (known !== undefined && known > nowMs) throw new ReplayError(`connection id ${id} was already used`)
    if (this.#expiresAt.size >= this.#maxEntries) this.#pruneAll(nowMs)
    // Fail closed: forgetting a live id would let its recording be replayed. Only key holders can fill this.
    if (this.#expiresAt.size >= this.#maxEntries) {
      throw new ReplayError(`more than ${this.#maxEntries} new connections within the replay window`)
    }
    this.#expiresAt.delete(id)
    this.#expiresAt.set(id, expiresAtMs)
  }

  // Insertion order is roughly expiry order, so trimming the front is cheap and usually enough.
  #pruneOldest(nowMs: number): void {
    for (const [id, expiresAt] of this.#expiresAt) {
      if (expiresAt > nowMs) return
      this.#expiresAt.delete(id)
    }
  }

  #pruneAll(nowMs: number): void {
    for (const [id, expiresAt] of this.#expiresAt) if (expiresAt <= nowMs) this.#expiresAt.delete(id)
  }
}

/**
 * A connection's first record must be fresh: its sender's clock within `replayWindowMs` of ours, and its
 * connection id not seen within the window (remembered in `recent`). Later records are ordered by their
 * sequence numbers, so replaying a whole recorded connection is the only replay left to refuse, and this does.
 */
export function admitFirstRecord(recent: RecentConnectionIds, connectionId: string, sentAtMs: number, nowMs: number, replayWindowMs: number): void {
  const skewMs = Math.abs(nowMs - sentAtMs)
  if (skewMs > replayWindowMs) {
    throw new ReplayError(`first record is ${skewMs} ms away from local time (window ${replayWindowMs} ms)`)
  }
  recent.admit(connectionId, nowMs, sentAtMs + replayWindowMs + 1)
}
