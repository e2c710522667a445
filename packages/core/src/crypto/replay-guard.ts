import { ReplayError } from '../errors.js'
import type { FrameHeader } from './frame-header.js'

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
 * The replay rules for one inbound connection: its first frame is fresh (seq 0, timestamp within the
 * window, unseen connection id), every later frame has the same id and the next sequence number.
 */
export class ConnectionReplayGuard {
  #connectionId: string | undefined
  #nextSeq = 0

  constructor(
    private readonly recent: RecentConnectionIds,
    private readonly replayWindowMs: number,
  ) {}

  check(header: FrameHeader, nowMs: number): void {
    if (this.#connectionId === undefined) {
      if (header.seq !== 0) throw new ReplayError(`first frame of a connection has seq ${header.seq}, expected 0`)
      const skewMs = Math.abs(nowMs - header.sentAtMs)
      if (skewMs > this.replayWindowMs) {
        throw new ReplayError(`first frame is ${skewMs} ms away from local time (window ${this.replayWindowMs} ms)`)
      }
      this.recent.admit(header.connectionId, nowMs, header.sentAtMs + this.replayWindowMs + 1)
      this.#connectionId = header.connectionId
    } else {
      if (header.connectionId !== this.#connectionId) {
        throw new ReplayError(`frame from connection ${header.connectionId} on connection ${this.#connectionId}`)
      }
      if (header.seq !== this.#nextSeq) throw new ReplayError(`frame seq ${header.seq}, expected ${this.#nextSeq}`)
    }
    this.#nextSeq = header.seq + 1
  }
}
