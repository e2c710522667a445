import { MalformedMessageError } from '../../errors.js'

/**
 * The per-peer replication stream (`replication-streams.ts`). Every member sends each other member its own
 * commits as numbered batches; the receiver acknowledges cumulatively and asks for read leases; the sender
 * grants them while the receiver keeps up. `f` is the sender's incarnation id, `r` the receiver's: a frame
 * meant for an earlier incarnation at the same address is dropped. `e` is the stream's epoch: a sender that
 * removed a member and took it back starts a new stream, numbered from 1, and the receiver must not mistake
 * its batches for ones it already applied.
 */
export type StreamMessage =
  /** Batch `s` of the sender's commits: `d` is the CBOR of a WireDelta[] (encoded once for every peer). */
  | { t: 'rd'; f: string; r: string; e: number; s: number; d: Uint8Array; why?: 'expired' }
  /**
   * From the receiver: every batch up to `a` of epoch `e` is applied; `q` asks for a read lease (its number);
   * `n` lists batches it refused (they failed its checks: the sender must stop counting on this member).
   */
  | { t: 'ra'; f: string; r: string; e: number; a: number; q?: number; n?: number[] }
  /** From the sender: lease `q` is granted. */
  | { t: 'rg'; f: string; r: string; e: number; q: number }
  /**
   * From the sender: the stream continues at batch `s` of epoch `e`; what came before will never come (a new
   * stream, or a buffer that overflowed). The receiver repairs by anti-entropy before it trusts the sender again.
   */
  | { t: 'rr'; f: string; r: string; e: number; s: number }

const ID = /^[A-Za-z0-9_-]{8,64}$/
/** Refused batches reported in one ack, at most. */
const MAX_REFUSED = 1_024

function isSeq(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

function ids(m: { f?: unknown; r?: unknown; e?: unknown }): { f: string; r: string; e: number } {
  if (typeof m.f !== 'string' || !ID.test(m.f) || typeof m.r !== 'string' || !ID.test(m.r) || !isSeq(m.e)) {
    throw new MalformedMessageError('stream message without valid incarnation ids and epoch')
  }
  return { f: m.f, r: m.r, e: m.e }
}

export function parseBatch(m: unknown): Extract<StreamMessage, { t: 'rd' }> {
  const msg = m as { s?: unknown; d?: unknown; why?: unknown }
  if (!isSeq(msg.s) || msg.s === 0 || !(msg.d instanceof Uint8Array)) throw new MalformedMessageError('bad stream batch')
  if (msg.why !== undefined && msg.why !== 'expired') throw new MalformedMessageError('unknown batch reason')
  return { t: 'rd', ...ids(m as object), s: msg.s, d: msg.d, ...(msg.why ? { why: 'expired' as const } : {}) }
}

export function parseAck(m: unknown): Extract<StreamMessage, { t: 'ra' }> {
  const msg = m as { a?: unknown; q?: unknown; n?: unknown }
  if (!isSeq(msg.a) || (msg.q !== undefined && !isSeq(msg.q))) throw new MalformedMessageError('bad stream ack')
  if (msg.n !== undefined && (!Array.isArray(msg.n) || msg.n.length > MAX_REFUSED || !msg.n.every(isSeq))) {
    throw new MalformedMessageError('bad refused list')
  }
  return { t: 'ra', ...ids(m as object), a: msg.a, ...(msg.q === undefined ? {} : { q: msg.q }), ...(msg.n ? { n: msg.n as number[] } : {}) }
}

export function parseGrant(m: unknown): Extract<StreamMessage, { t: 'rg' }> {
  const q = (m as { q?: unknown }).q
  if (!isSeq(q)) throw new MalformedMessageError('bad lease grant')
  return { t: 'rg', ...ids(m as object), q }
}

export function parseReset(m: unknown): Extract<StreamMessage, { t: 'rr' }> {
  const s = (m as { s?: unknown }).s
  if (!isSeq(s) || s === 0) throw new MalformedMessageError('bad stream reset')
  return { t: 'rr', ...ids(m as object), s }
}
