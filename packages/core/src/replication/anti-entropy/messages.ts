import { MalformedMessageError } from '../../errors.js'
import type { WireRecord } from '../../session/index.js'

/**
 * Anti-entropy, one round started by A with B:
 *   A → B  `ae`        A's bucket digests; `m`: whether A replicates to B (knows it as a member)
 *   B → A  `ae-keys`   the buckets that differ, with B's [id, digest, digest] in them; B's `m`
 *   A → B  `ae-repair` A's records B lacks or holds otherwise, and the ids A wants (`w`)
 *   B → A  `ae-repaired` B's records for `w`, and the ids of A's records B knows to be destroyed (`gone`)
 *   A → B  `ae-gone`   the ids of B's records A knows to be destroyed
 * Every merge is the normal one, so a round can be interrupted or repeated at any point.
 */
export type AntiEntropyMessage =
  | { t: 'ae'; h: Uint8Array; m: boolean }
  | { t: 'ae-keys'; m: boolean; b: number[]; k: Array<[string, number, number]> }
  | { t: 'ae-repair'; s: string[]; r: WireRecord[]; w: string[]; last: boolean; m: boolean }
  | { t: 'ae-repaired'; s: string[]; r: WireRecord[]; gone: string[] }
  | { t: 'ae-gone'; ids: string[] }

/** Keys or records in one message, at most (a large difference takes several rounds or parts). */
export const MAX_AE_ITEMS = 20_000

function isId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= 256
}

function isIdList(value: unknown): value is string[] {
  return Array.isArray(value) && value.length <= MAX_AE_ITEMS && value.every(isId)
}

export function parseDigestRequest(m: unknown): { h: Uint8Array; m: boolean } {
  const msg = m as { h?: unknown; m?: unknown }
  if (!(msg.h instanceof Uint8Array) || typeof msg.m !== 'boolean') throw new MalformedMessageError('bad anti-entropy digest')
  return { h: msg.h, m: msg.m }
}

export function parseKeys(m: unknown): { m: boolean; b: number[]; k: Array<[string, number, number]> } {
  const msg = m as { t?: unknown; m?: unknown; b?: unknown; k?: unknown }
  if (msg.t !== 'ae-keys' || typeof msg.m !== 'boolean' || !Array.isArray(msg.b) || !Array.isArray(msg.k) || msg.k.length > MAX_AE_ITEMS) {
    throw new MalformedMessageError('bad anti-entropy keys')
  }
  if (!msg.b.every((v) => Number.isInteger(v) && v >= 0 && v < 65_536)) throw new MalformedMessageError('bad anti-entropy buckets')
  for (const entry of msg.k) {
    if (!Array.isArray(entry) || entry.length !== 3 || !isId(entry[0]) || !isU32(entry[1]) || !isU32(entry[2])) {
      throw new MalformedMessageError('bad anti-entropy key')
    }
  }
  return { m: msg.m, b: msg.b as number[], k: msg.k as Array<[string, number, number]> }
}

/** `n`: the sender's wall clock when it sent its records (absent from members of earlier versions). */
export function parseRepair(m: unknown): { s: unknown; r: unknown[]; w: string[]; last: boolean; n: number | undefined } {
  const msg = m as { s?: unknown; r?: unknown; w?: unknown; last?: unknown; n?: unknown }
  if (!Array.isArray(msg.r) || msg.r.length > MAX_AE_ITEMS || !isIdList(msg.w) || typeof msg.last !== 'boolean' || !isOptionalTime(msg.n)) {
    throw new MalformedMessageError('bad anti-entropy repair')
  }
  return { s: msg.s, r: msg.r, w: msg.w, last: msg.last, n: msg.n }
}

export function parseRepaired(m: unknown): { s: unknown; r: unknown[]; gone: string[]; n: number | undefined } {
  const msg = m as { t?: unknown; s?: unknown; r?: unknown; gone?: unknown; n?: unknown }
  if (msg.t !== 'ae-repaired' || !Array.isArray(msg.r) || msg.r.length > MAX_AE_ITEMS || !isIdList(msg.gone) || !isOptionalTime(msg.n)) {
    throw new MalformedMessageError('bad anti-entropy reply')
  }
  return { s: msg.s, r: msg.r, gone: msg.gone, n: msg.n }
}

function isOptionalTime(value: unknown): value is number | undefined {
  return value === undefined || (typeof value === 'number' && Number.isFinite(value))
}

export function parseGone(m: unknown): string[] {
  const ids = (m as { ids?: unknown }).ids
  if (!isIdList(ids)) throw new MalformedMessageError('bad anti-entropy gone list')
  return ids
}

function isU32(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 0xffff_ffff
}
