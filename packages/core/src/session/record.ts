import { compareStamps, type Stamp, ZERO_STAMP } from './hlc.js'

/** One attribute as a replica holds it; `json` undefined is a removal (a per-attribute tombstone). */
export interface AttrEntry {
  stamp: Stamp
  json?: string
}

/** A last-writer-wins value. */
export interface Register<T> {
  stamp: Stamp
  value: T
}

/**
 * The replica state of one session, keyed by its base id (no `.route` suffix).
 * Registers never written yet hold ZERO_STAMP (see `isUnsetRegister`); `createdAt` not known yet is
 * +Infinity (the neutral element of `min`). A destroyed record keeps no attributes and unset registers.
 */
export interface SessionRecord {
  id: string
  createdAt: number
  attrs: Map<string, AttrEntry>
  maxInactiveMs: Register<number>
  route: Register<string>
  lastAccessedAt: number
  destroyed?: Stamp
}

/** An attribute write in a delta: name, stamp, json (undefined = removed). */
export type AttrWrite = [name: string, stamp: Stamp, json: string | undefined]

/** Part of a record's state: what a commit, an access flush or a state transfer sends. */
export interface Delta {
  id: string
  createdAt?: number
  attrs?: AttrWrite[]
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
    attrs: new Map(),
    maxInactiveMs: { ...UNSET_MAX_INACTIVE },
    route: { ...UNSET_ROUTE },
    lastAccessedAt: 0,
  }
}

export function isDestroyed(record: SessionRecord): boolean {
  return record.destroyed !== undefined
}

/** The full state as a delta (state transfer), tombstones included so a joiner cannot resurrect them. */
export function recordToDelta(record: SessionRecord): Delta {
  const delta: Delta = { id: record.id, lastAccessedAt: record.lastAccessedAt }
  if (Number.isFinite(record.createdAt)) delta.createdAt = record.createdAt
  if (record.destroyed) {
    delta.destroyed = record.destroyed
    return delta
  }
  if (record.attrs.size > 0) {
    delta.attrs = [...record.attrs].map(([name, entry]): AttrWrite => [name, entry.stamp, entry.json])
  }
  if (!isUnsetRegister(record.maxInactiveMs)) delta.maxInactiveMs = { ...record.maxInactiveMs }
  if (!isUnsetRegister(record.route)) delta.route = { ...record.route }
  return delta
}

/** The current (non-removed) attribute values as json. */
export function liveAttributes(record: SessionRecord): Map<string, string> {
  const live = new Map<string, string>()
  for (const [name, entry] of record.attrs) if (entry.json !== undefined) live.set(name, entry.json)
  return live
}

/**
 * A plain, order-independent form of a record (attributes sorted by name, absent parts as null),
 * for `toEqual` in tests and convergence checks.
 */
export function canonicalRecord(record: SessionRecord) {
  const names = [...record.attrs.keys()].sort()
  return {
    id: record.id,
    createdAt: Number.isFinite(record.createdAt) ? record.createdAt : null,
    attrs: names.map((name) => {
      const entry = record.attrs.get(name)!
      return [name, [...entry.stamp], entry.json ?? null] as const
    }),
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
