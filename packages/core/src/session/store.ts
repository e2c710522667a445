import { AttributeSet, type AttrWrite } from './attributes.js'
import { BucketDigests, bucketOf, type DigestedParts, recordDigest, updatedDigest } from './digest.js'
import { applyDelta, type SessionChange } from './merge.js'
import { type Delta, isUnsetRegister, type SessionRecord } from './record.js'

export interface SessionTableOptions {
  /**
   * Idle limit for a session whose maxInactiveMs has not arrived yet (a delta that overtook its create).
   * @default 1_800_000 (Tomcat's 30 minutes)
   */
  defaultMaxInactiveMs?: number
}

/**
 * Every session replica this node holds, live and destroyed (tombstones). Pure state: no timers, no I/O;
 * the replication layer decides when to purge, expire and flush access times.
 */
export class SessionTable {
  readonly #records = new Map<string, SessionRecord>()
  /** Each record's digest (anti-entropy), and their XOR per bucket. */
  readonly #digests = new Map<string, readonly [number, number]>()
  readonly #buckets = new BucketDigests()
  readonly #dirtyAccesses = new Set<string>()
  readonly #defaultMaxInactiveMs: number
  #tombstones = 0
  /** Counts every merge: a position in this table's history (see `changeSeq`). */
  #changeSeq = 0
  /** Counts records that stopped being live here (destroyed, purged, evicted): see `removals`. */
  #removals = 0
  /** Tombstone → the `changeSeq` at which it arrived here. */
  readonly #tombstonedAt = new Map<string, number>()

  constructor(options: SessionTableOptions = {}) {
    this.#defaultMaxInactiveMs = options.defaultMaxInactiveMs ?? 1_800_000
  }

  /** The record, live or destroyed. Callers must not mutate it; apply a delta instead. */
  get(id: string): SessionRecord | undefined {
    return this.#records.get(id)
  }

  /** The record if the session is alive. */
  getLive(id: string): SessionRecord | undefined {
    const record = this.#records.get(id)
    return record && !record.destroyed ? record : undefined
  }

  /** Merge `delta`; returns what became visible, unless `report` is false (nobody listens). */
  apply(delta: Delta, report = true): SessionChange[] {
    this.#changeSeq++
    const existing = this.#records.get(delta.id)
    const wasDestroyed = existing?.destroyed !== undefined
    // The parts the merge may replace, for an incremental digest (records are updated in place).
    const was: DigestedParts | undefined =
      existing && !wasDestroyed ? { attrs: existing.attrs, maxInactiveMs: existing.maxInactiveMs, route: existing.route } : undefined
    const { record, changes } = applyDelta(existing, delta, report)
    if (!existing) this.#records.set(record.id, record)
    // Only these parts enter the digest; an access time alone does not.
    if (!existing || delta.attrs || delta.destroyed || delta.route || delta.maxInactiveMs) this.#refreshDigest(record, was, delta)
    if (record.destroyed && !wasDestroyed) {
      this.#tombstones++
      this.#removals++
      this.#tombstonedAt.set(record.id, this.#changeSeq)
      this.#dirtyAccesses.delete(record.id)
    }
    return changes
  }

  /** Live sessions (tombstones not counted). */
  get size(): number {
    return this.#records.size - this.#tombstones
  }

  get tombstoneCount(): number {
    return this.#tombstones
  }

  /** Live records. */
  *[Symbol.iterator](): IterableIterator<SessionRecord> {
    for (const record of this.#records.values()) if (!record.destroyed) yield record
  }

  /** Every record, tombstones included: what a state transfer must send so a joiner cannot resurrect them. */
  records(): IterableIterator<SessionRecord> {
    return this.#records.values()
  }

  /**
   * A position in this table's history: it grows with every merge. Whoever compared the whole table with a member
   * at position P knows that member holds every tombstone that arrived at or before P.
   */
  get changeSeq(): number {
    return this.#changeSeq
  }

  /** Grows whenever a session stops being live here (destroyed, purged, evicted); unchanged by writes. */
  get removals(): number {
    return this.#removals
  }

  /**
   * Forget tombstones destroyed at least `olderThanMs` before `now` (by the destroy stamp's wall time) that arrived
   * here at or before `confirmedThrough` (a `changeSeq` every member is known to have caught up with).
   * Keep them longer than any delta can be in flight, or a late delta would bring the session back; and until every
   * member holds them, or a member away for longer would bring it back when it returns.
   */
  purgeTombstones(olderThanMs: number, now: number, confirmedThrough = Number.POSITIVE_INFINITY): number {
    let purged = 0
    for (const [id, record] of this.#records) {
      if (record.destroyed && record.destroyed[0] + olderThanMs <= now && (this.#tombstonedAt.get(id) ?? 0) <= confirmedThrough) {
        this.#records.delete(id)
        this.#tombstonedAt.delete(id)
        this.#buckets.update(id, this.#digests.get(id), undefined)
        this.#digests.delete(id)
        purged++
      }
    }
    this.#tombstones -= purged
    this.#removals += purged
    return purged
  }

  /**
   * Let go of a live replica this node no longer has to hold (primary/backup placement moved it elsewhere, and its
   * owners hold it). Not for destruction: a tombstone is how a session ends.
   */
  evict(id: string): boolean {
    const record = this.#records.get(id)
    if (!record || record.destroyed) return false
    this.#records.delete(id)
    this.#buckets.update(id, this.#digests.get(id), undefined)
    this.#digests.delete(id)
    this.#dirtyAccesses.delete(id)
    this.#changeSeq++
    this.#removals++
    return true
  }

  /** Live records idle for their maxInactiveMs plus `graceMs`. maxInactiveMs <= 0 never expires. */
  expired(now: number, graceMs = 0): SessionRecord[] {
    const result: SessionRecord[] = []
    for (const record of this) {
      const maxInactiveMs = isUnsetRegister(record.maxInactiveMs)
        ? this.#defaultMaxInactiveMs
        : record.maxInactiveMs.value
      if (maxInactiveMs > 0 && record.lastAccessedAt + maxInactiveMs + graceMs <= now) result.push(record)
    }
    return result
  }

  /** Per-bucket digests of the whole table (anti-entropy compares them with a peer's). */
  get digests(): BucketDigests {
    return this.#buckets
  }

  /** A record's digest (see digest.ts). */
  digestOf(id: string): readonly [number, number] | undefined {
    return this.#digests.get(id)
  }

  /** Every record, tombstones included, whose id falls in one of `buckets`. */
  recordsIn(buckets: ReadonlySet<number>): SessionRecord[] {
    const out: SessionRecord[] = []
    if (buckets.size === 0) return out
    for (const record of this.#records.values()) if (buckets.has(bucketOf(record.id))) out.push(record)
    return out
  }

  #refreshDigest(record: SessionRecord, was: DigestedParts | undefined, delta: Delta): void {
    const before = this.#digests.get(record.id)
    const after =
      before && was && !record.destroyed && !(delta.attrs instanceof AttributeSet)
        ? updatedDigest(before, was, record, attributeNames(delta.attrs))
        : recordDigest(record)
    if (before && before[0] === after[0] && before[1] === after[1]) return
    this.#digests.set(record.id, after)
    this.#buckets.update(record.id, before, after)
  }

  /**
   * Record an access cheaply: raise lastAccessedAt and remember the id, so the replication layer can send
   * coalesced access times later (`takeDirtyAccesses`) instead of a message per request.
   * Returns false for an unknown or destroyed session.
   */
  touch(id: string, atMs: number): boolean {
    const record = this.#records.get(id)
    if (!record || record.destroyed) return false
    if (atMs > record.lastAccessedAt) {
      record.lastAccessedAt = atMs
      this.#dirtyAccesses.add(id)
    }
    return true
  }

  /** Whether the session's access time changed here since the last `takeDirtyAccesses` (not sent yet). */
  hasDirtyAccess(id: string): boolean {
    return this.#dirtyAccesses.has(id)
  }

  /** Access times touched since the last call, each once; clears the set. */
  takeDirtyAccesses(): Array<[id: string, lastAccessedAt: number]> {
    const result: Array<[string, number]> = []
    for (const id of this.#dirtyAccesses) {
      const record = this.#records.get(id)
      if (record && !record.destroyed) result.push([id, record.lastAccessedAt])
    }
    this.#dirtyAccesses.clear()
    return result
  }
}

function attributeNames(writes: readonly AttrWrite[] | undefined): string[] {
  if (!writes) return []
  const names: string[] = new Array(writes.length)
  for (let i = 0; i < writes.length; i++) names[i] = writes[i]![0]
  return names
}
