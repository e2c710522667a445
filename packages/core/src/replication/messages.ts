import { MalformedMessageError } from '../errors.js'
import type { WireRecord } from '../session/index.js'

/**
 * Replication messages besides the streams' batches (`stream/messages.ts`: DeltaManager's EVT_* set reduced to
 * one stamped delta, sent in numbered batches) and anti-entropy's (`anti-entropy/messages.ts`).
 */
export type ReplicationMessage =
  /** Coalesced access times: [id, lastAccessedAt] pairs. */
  | { t: 'access'; a: Array<[string, number]> }
  /** Before expiring, ask peers for the latest access they saw of these sessions. */
  | { t: 'expire-check'; ids: string[] }
  | { t: 'expire-check-reply'; a: Array<[string, number]> }
  /**
   * State transfer: give me records `c` up to `e` of transfer `x`. The first request (c = 0, no `e`) starts
   * the transfer; its reply carries every chunk boundary `b`, so later requests can be sent ahead.
   */
  | { t: 'state-req'; x: string; c: number; e?: number }
  /** A chunk of whole records and their strings `s`; `c` is where the next chunk starts, or -1 after the last one. */
  | { t: 'state'; x: string; c: number; b?: number[]; s: string[]; r: WireRecord[] }

/** Items (deltas, access pairs, ids) one message may carry, at most. */
export const MAX_DELTAS_PER_MESSAGE = 10_000

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

export function parseStateRequest(m: unknown): { x: string; c: number; e: number | undefined } {
  const { x, c, e } = m as { x?: unknown; c?: unknown; e?: unknown }
  if (typeof x !== 'string' || x.length > 64 || !isCursor(c) || (e !== undefined && (!isCursor(e) || e <= c))) {
    throw new MalformedMessageError('bad state request')
  }
  return { x, c, e }
}

export interface StateChunk {
  /** Where the next chunk starts, -1 after the last. */
  c: number
  /** Chunk ends, ascending (the first reply of a transfer only). */
  boundaries: number[] | undefined
  /** Wire records, each checked by `recordFromWire` when it is merged. */
  records: unknown[]
  /** The chunk's attribute names and node ids, checked when a record refers to them. */
  strings: unknown
}

/** At most this many chunk boundaries in a first reply (a transfer of 10^9 records in 256 KiB chunks needs ~10^6). */
const MAX_BOUNDARIES = 4_000_000

export function parseStateChunk(m: unknown, transferId: string): StateChunk {
  const { t, x, c, b, s, r } = m as { t?: unknown; x?: unknown; c?: unknown; b?: unknown; s?: unknown; r?: unknown }
  if (t !== 'state' || x !== transferId || !(c === -1 || isCursor(c)) || !Array.isArray(r)) {
    throw new MalformedMessageError('bad state chunk')
  }
  if (b !== undefined && (!Array.isArray(b) || b.length > MAX_BOUNDARIES || !b.every((v, i) => isCursor(v) && (i === 0 || v > b[i - 1])))) {
    throw new MalformedMessageError('bad state chunk boundaries')
  }
  return { c, boundaries: b as number[] | undefined, records: r, strings: s }
}

function isCursor(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

/** Split a list into messages of bounded size. */
export function chunked<T>(items: T[], size = MAX_DELTAS_PER_MESSAGE): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}
