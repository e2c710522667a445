import type { AttributeSet } from './attributes.js'
import type { Register, SessionRecord } from './record.js'

/**
 * Digests of replica state for anti-entropy: two independent 32-bit hashes per record, combined per bucket by
 * XOR so a change updates its bucket in O(1) and two tables compare in O(buckets). A record's digest covers
 * what a merge decides by: every attribute's name and stamp, the registers' stamps, and destruction (stamps
 * determine values, so equal stamps mean equal state). Access times are left out: they travel on their own and
 * differ between replicas by design.
 */
export const DIGEST_BUCKETS = 1024

const FNV_PRIME = 0x01000193

function mixString(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME)
  return h
}

function mixNumber(h: number, n: number): number {
  h = Math.imul(h ^ (n >>> 0), FNV_PRIME)
  return Math.imul(h ^ Math.floor(n / 0x1_0000_0000), FNV_PRIME)
}

/** A final avalanche so nearby inputs land far apart (murmur3's fmix32). */
function finish(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

const SEEDS = [0x811c9dc5, 0x5bd1e995] as const

function stampHash(seed: number, name: string, wall: number, counter: number, node: string, removed: boolean): number {
  let h = mixString(seed, name)
  h = mixNumber(h, wall)
  h = mixNumber(h, counter)
  h = mixString(h, node)
  return finish(removed ? h ^ 0x9e3779b9 : h)
}

/** The record's two digests (order-independent over attributes). */
export function recordDigest(record: SessionRecord): [number, number] {
  const out: [number, number] = [0, 0]
  for (let k = 0; k < 2; k++) {
    const seed = SEEDS[k]!
    if (record.destroyed) {
      out[k] = finish(mixString(seed ^ 0xdead, record.id))
      continue
    }
    let h = finish(mixString(seed, record.id))
    const { attrs, maxInactiveMs, route } = record
    for (let i = 0; i < attrs.size; i++) h ^= entryHash(seed, attrs, i)
    h ^= registerHash(seed ^ 1, maxInactiveMs)
    h ^= registerHash(seed ^ 2, route)
    out[k] = h >>> 0
  }
  return out
}

/** The parts of a live record a merge may have replaced, as they were before it (all immutable, so kept by reference). */
export interface DigestedParts {
  attrs: AttributeSet
  maxInactiveMs: Register<number>
  route: Register<string>
}

/**
 * Above this many attribute writes in one delta the digest is computed afresh (`recordDigest`, linear in the
 * session's attributes): the incremental way looks each name up, which for a delta naming thousands of attributes
 * would cost more than hashing them all.
 */
const MAX_INCREMENTAL_NAMES = 8

/**
 * The digests of a record that was live before a merge and still is, from its digests before the merge: only the
 * attributes named in `names` (and the registers that were replaced) are hashed again, so a commit to one attribute
 * costs one entry where `recordDigest` hashes all of them, and on every member. Equal to `recordDigest(record)`
 * because a record's digest is the XOR of its parts.
 */
export function updatedDigest(
  before: readonly [number, number],
  was: DigestedParts,
  record: SessionRecord,
  names: readonly string[],
): [number, number] {
  if (names.length > MAX_INCREMENTAL_NAMES) return recordDigest(record)
  // The entries to take out (the old set's) and to put in (the new set's), found once for both seeds.
  const entries: Array<[AttributeSet, number]> = []
  if (record.attrs !== was.attrs) {
    for (let n = 0; n < names.length; n++) {
      const name = names[n]!
      if (names.indexOf(name) < n) continue // named twice in one delta: counted once
      const old = was.attrs.find(name)
      if (old >= 0) entries.push([was.attrs, old])
      // A scan, not `find`: on a large set `find` builds a lookup map, and this set stays with the record.
      const now = record.attrs.scan(name)
      if (now >= 0) entries.push([record.attrs, now])
    }
  }
  const out: [number, number] = [0, 0]
  for (let k = 0; k < 2; k++) {
    const seed = SEEDS[k]!
    let h = before[k]!
    for (const [set, i] of entries) h ^= entryHash(seed, set, i)
    if (record.maxInactiveMs !== was.maxInactiveMs) h ^= registerHash(seed ^ 1, was.maxInactiveMs) ^ registerHash(seed ^ 1, record.maxInactiveMs)
    if (record.route !== was.route) h ^= registerHash(seed ^ 2, was.route) ^ registerHash(seed ^ 2, record.route)
    out[k] = h >>> 0
  }
  return out
}

function entryHash(seed: number, attrs: AttributeSet, i: number): number {
  const stamp = attrs.stamp(i)
  return stampHash(seed, attrs.name(i), stamp[0], stamp[1], stamp[2], attrs.isRemoval(i))
}

function registerHash(seed: number, register: Register<unknown>): number {
  const { stamp } = register
  return stampHash(seed, '', stamp[0], stamp[1], stamp[2], false)
}

export function bucketOf(id: string): number {
  return finish(mixString(SEEDS[0], id)) % DIGEST_BUCKETS
}

/** Per-bucket XOR of record digests, kept up to date by the session table. */
export class BucketDigests {
  readonly a = new Uint32Array(DIGEST_BUCKETS)
  readonly b = new Uint32Array(DIGEST_BUCKETS)

  /** Replace a record's contribution: `before` undefined for a new record, `after` undefined for a removed one. */
  update(id: string, before: readonly [number, number] | undefined, after: readonly [number, number] | undefined): void {
    const bucket = bucketOf(id)
    if (before) {
      this.a[bucket]! ^= before[0]
      this.b[bucket]! ^= before[1]
    }
    if (after) {
      this.a[bucket]! ^= after[0]
      this.b[bucket]! ^= after[1]
    }
  }

  /** Both hash arrays as one byte string (8 KiB), for the wire. */
  encode(): Uint8Array {
    const out = new Uint8Array(DIGEST_BUCKETS * 8)
    out.set(new Uint8Array(this.a.buffer, this.a.byteOffset, this.a.byteLength), 0)
    out.set(new Uint8Array(this.b.buffer, this.b.byteOffset, this.b.byteLength), DIGEST_BUCKETS * 4)
    return out
  }

  /** Buckets whose digests differ from an encoded peer table; undefined when `encoded` is not one. */
  differing(encoded: Uint8Array): number[] | undefined {
    if (!(encoded instanceof Uint8Array) || encoded.length !== DIGEST_BUCKETS * 8) return undefined
    const copy = new Uint8Array(encoded) // aligned, and no alias of the message
    const a = new Uint32Array(copy.buffer, 0, DIGEST_BUCKETS)
    const b = new Uint32Array(copy.buffer, DIGEST_BUCKETS * 4, DIGEST_BUCKETS)
    const out: number[] = []
    for (let i = 0; i < DIGEST_BUCKETS; i++) if (a[i] !== this.a[i] || b[i] !== this.b[i]) out.push(i)
    return out
  }
}
