import { AttributeSet, type AttrWrite } from './attributes.js'
import { compareStamps, maxStamp, type Stamp, ZERO_STAMP } from './hlc.js'

/** A last-writer-wins value. Never mutated (a merge replaces it), so records and deltas share them. */
export interface Register<T> {
  readonly stamp: Stamp
  readonly value: T
}

/**
 * The replica state of one session, keyed by its base id (no `.route` suffix).
 * Registers never written yet hold ZERO_STAMP (see `isUnsetRegister`); `createdAt` not known yet is
 * +Infinity (the neutral element of `min`). A destroyed record keeps no attributes and unset registers.
 */
export interface SessionRecord {
  id: string
  createdAt: number
  attrs: AttributeSet
  maxInactiveMs: Register<number>
  route: Register<string>
  lastAccessedAt: number
  destroyed?: Stamp
}

/**
 * Part of a record's state: what a commit, an access flush or a state transfer sends. Attributes come as
 * writes (a commit) or as a whole set (a record's full state: `recordToDelta`, a state transfer).
 */
export interface Delta {
  id: string
  createdAt?: number
  attrs?: AttrWrite[] | AttributeSet
  maxInactiveMs?: Register<number>
  route?: Register<string>
  lastAccessedAt?: number
  destroyed?: Stamp
}

/** Values of registers nobody has written; any real write (a non-empty node id) orders above them. */
export const UNSET_MAX_INACTIVE: Readonly<Register<number>> = Object.freeze({ stamp: ZERO_STAMP, value: 0 })
export const UNSET_ROUTE: Readonly<Register<string>> = Object.freeze({ stamp: ZERO_STAMP, value: '' })

export function isUnsetRegister(register: Register<unknown>): boolean {
  return compareStamps(register.stamp, ZERO_STAMP) === 0
}

/** The state of a session nothing is known about yet: the identity of the merge. */
export function emptyRecord(id: string): SessionRecord {
  return {
    id,
    createdAt: Number.POSITIVE_INFINITY,
    attrs: AttributeSet.EMPTY,
    maxInactiveMs: UNSET_MAX_INACTIVE,
    route: UNSET_ROUTE,
    lastAccessedAt: 0,
  }
}

/** The highest stamp a delta carries (undefined if none): what a receiver's clock must order after. */
export function deltaMaxStamp(delta: Delta): Stamp | undefined {
  let max: Stamp | undefined
  const consider = (stamp: Stamp | undefined) => {
    if (stamp) max = max ? maxStamp(max, stamp) : stamp
  }
  consider(delta.destroyed)
  consider(delta.route?.stamp)
  consider(delta.maxInactiveMs?.stamp)
  if (delta.attrs instanceof AttributeSet) consider(delta.attrs.maxStamp())
  else if (delta.attrs) for (const [, stamp] of delta.attrs) consider(stamp)
  return max
}

export function isDestroyed(record: SessionRecord): boolean {
  return record.destroyed !== undefined
}

/**
 * A live copy made only of changes that reached this node, without the session's creation (it has not arrived, or
 * a writer sent changes to a node that never held the session): not a whole session.
 */
export function isPartialCopy(record: SessionRecord): boolean {
  return record.destroyed === undefined && !Number.isFinite(record.createdAt)
}

/** The full state as a delta (state transfer), tombstones included so a joiner cannot resurrect them. */
export function recordToDelta(record: SessionRecord): Delta {
  const delta: Delta = { id: record.id, lastAccessedAt: record.lastAccessedAt }
  if (Number.isFinite(record.createdAt)) delta.createdAt = record.createdAt
  if (record.destroyed) {
    delta.destroyed = record.destroyed
    return delta
  }
  // Sets are immutable, so the delta can share it.
  if (record.attrs.size > 0) delta.attrs = record.attrs
  if (!isUnsetRegister(record.maxInactiveMs)) delta.maxInactiveMs = record.maxInactiveMs
  if (!isUnsetRegister(record.route)) delta.route = record.route
  return delta
}

/** The current (non-removed) attribute values as json. */
export function liveAttributes(record: SessionRecord): Map<string, string> {
  const live = new Map<string, string>()
  record.attrs.forEach((name, _stamp, json) => {
    if (json !== undefined) live.set(name, json)
  })
  return live
}

/**
 * A plain, order-independent form of a record (attributes sorted by name, absent parts as null),
 * for `toEqual` in tests and convergence checks.
 */
export function canonicalRecord(record: SessionRecord) {
  const attrs = record.attrs
    .toWrites()
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, stamp, json]) => [name, [...stamp], json ?? null] as const)
  return {
    id: record.id,
    createdAt: Number.isFinite(record.createdAt) ? record.createdAt : null,
    attrs,
    maxInactiveMs: [[...record.maxInactiveMs.stamp], record.maxInactiveMs.value] as const,
    route: [[...record.route.stamp], record.route.value] as const,
    lastAccessedAt: record.lastAccessedAt,
    destroyed: record.destroyed ? [...record.destroyed] : null,
  }
}

export type CanonicalRecord = ReturnType<typeof canonicalRecord>

export function recordsEqual(a: SessionRecord, b: SessionRecord): boolean {
  return JSON.stringify(canonicalRecord(a)) === JSON.stringify(canonicalRecord(b))
}
