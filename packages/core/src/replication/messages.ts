import { MalformedMessageError } from '../errors.js'
import { type Delta, fromWire, recordFromWire, toWire, type WireDelta, type WireRecord } from '../session/index.js'

/**
 * Replication messages (DeltaManager's EVT_* set, reduced: CREATED, DELTA, CHANGE_SESSION_ID and EXPIRED
 * are all one stamped delta, so their order no longer matters).
 */
export type ReplicationMessage =
  /** Session changes; `why: 'expired'` marks destructions by expiry (for listeners). */
  | { t: 'delta'; d: WireDelta[]; why?: 'expired' }
  /** Coalesced access times: [id, lastAccessedAt] pairs. */
  | { t: 'access'; a: Array<[string, number]> }
  /** Before expiring, ask peers for the latest access they saw of these sessions. */
  | { t: 'expire-check'; ids: string[] }
  | { t: 'expire-check-reply'; a: Array<[string, number]> }
  /** State transfer: give me the chunk of transfer `x` that starts at `c`. */
  | { t: 'state-req'; x: string; c: number }
  /** A chunk of whole records; `c` is the next cursor, or -1 when the transfer is complete. */
  | { t: 'state'; x: string; c: number; r: WireRecord[] }

export const MAX_DELTAS_PER_MESSAGE = 10_000

export function deltaMessage(deltas: Delta[], why?: 'expired'): ReplicationMessage {
  return why ? { t: 'delta', d: deltas.map(toWire), why } : { t: 'delta', d: deltas.map(toWire) }
}

export function parseDeltas(m: unknown): { deltas: Delta[]; expired: boolean } {
  const msg = m as { d?: unknown; why?: unknown }
  if (!Array.isArray(msg.d) || msg.d.length > MAX_DELTAS_PER_MESSAGE) throw new MalformedMessageError('delta message without deltas')
  if (msg.why !== undefined && msg.why !== 'expired') throw new MalformedMessageError('unknown delta reason')
  return { deltas: msg.d.map(fromWire), expired: msg.why === 'expired' }
}

export function parseAccessPairs(value: unknown): Array<[string, number]> {
  if (!Array.isArray(value) || value.length > MAX_DELTAS_PER_MESSAGE) throw new MalformedMessageError('bad access list')
  for (const pair of value) {
    if (
      !Array.isArray(pair) ||
      pair.length !== 2 ||
      typeof pair[0] !== 'string' ||
      pair[0].length > 256 ||
      typeof pair[1] !== 'number' ||
      !Number.isSafeInteger(pair[1]) ||
      pair[1] < 0
    ) {
      throw new MalformedMessageError('bad access entry')
    }
  }
  return value as Array<[string, number]>
}

export function parseIds(value: unknown): string[] {
  if (!Array.isArray(value) || value.length > MAX_DELTAS_PER_MESSAGE || value.some((id) => typeof id !== 'string' || id.length > 256)) {
    throw new MalformedMessageError('bad id list')
  }
  return value as string[]
}

export function parseStateRequest(m: unknown): { x: string; c: number } {
  const { x, c } = m as { x?: unknown; c?: unknown }
  if (typeof x !== 'string' || x.length > 64 || typeof c !== 'number' || !Number.isSafeInteger(c) || c < 0) {
    throw new MalformedMessageError('bad state request')
  }
  return { x, c }
}

export function parseStateChunk(m: unknown, transferId: string): { c: number; deltas: Delta[] } {
  const { t, x, c, r } = m as { t?: unknown; x?: unknown; c?: unknown; r?: unknown }
  if (t !== 'state' || x !== transferId || typeof c !== 'number' || !Number.isSafeInteger(c) || c < -1 || !Array.isArray(r)) {
    throw new MalformedMessageError('bad state chunk')
  }
  return { c, deltas: r.map(recordFromWire) }
}

/** Split a list into messages of bounded size. */
export function chunked<T>(items: T[], size = MAX_DELTAS_PER_MESSAGE): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}
