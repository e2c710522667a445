import { MalformedMessageError } from '../../errors.js'
import { type Address, validateHost, validatePort } from '../../member.js'
import { SUPPORTED_PROTOCOLS } from './hello.js'

/**
 * What the receiving end of a connection sends first, in the clear (u32 length-prefixed like records):
 *
 *   greeting: "SCG" | u8 layout 1 | u8 lowest version | u8 highest version | nonce (16) | u16 port | u8 n | host (n)
 *   refusal:  "SCR" | u8 reason | u8 n | detail (n, utf8)
 *
 * The greeting's nonce is fresh for every connection and enters the connection's key with the receiver's
 * address, so the sender's records are good on this connection only. A refusal tells the sender why its records
 * were not accepted, so a wrong secret is reported where the operator looks (the node that is refused) instead of
 * only in the refusing node's log. Neither is authenticated: an on-path attacker can forge a refusal, which costs
 * nothing it could not do by dropping the connection, and only changes what the refused node reports.
 */
const GREETING_MAGIC = Buffer.from('SCG', 'latin1')
const REFUSAL_MAGIC = Buffer.from('SCR', 'latin1')
const GREETING_LAYOUT = 0x01
export const GREETING_NONCE_BYTES = 16
/** A greeting or refusal is small; a peer that sends more before its greeting is not one of ours. */
export const GREETING_MAX_BYTES = 512

export interface Greeting {
  address: Address
  lowest: number
  highest: number
  nonce: Buffer
}

/** Why a receiver refused a connection (on the wire as a byte). */
export type RefusalReason = 'wrong-secret' | 'incompatible-version'
const REASON_CODES: Record<RefusalReason, number> = { 'wrong-secret': 1, 'incompatible-version': 2 }

export function encodeGreeting(address: Address, nonce: Uint8Array, versions: { lowest: number; highest: number } = SUPPORTED_PROTOCOLS): Buffer {
  const host = Buffer.from(address.host, 'utf8')
  const out = Buffer.allocUnsafe(GREETING_MAGIC.length + 3 + GREETING_NONCE_BYTES + 3 + host.length)
  GREETING_MAGIC.copy(out, 0)
  let at = GREETING_MAGIC.length
  out[at++] = GREETING_LAYOUT
  out[at++] = versions.lowest
  out[at++] = versions.highest
  Buffer.from(nonce).copy(out, at)
  at += GREETING_NONCE_BYTES
  out.writeUInt16BE(address.port, at)
  out[at + 2] = host.length
  host.copy(out, at + 3)
  return out
}

export function encodeRefusal(reason: RefusalReason, detail: string): Buffer {
  const text = Buffer.from(detail.slice(0, 200), 'utf8')
  return Buffer.concat([REFUSAL_MAGIC, Buffer.from([REASON_CODES[reason], text.length]), text])
}

/** A greeting, a refusal, or a MalformedMessageError naming what arrived instead. */
export function decodeGreeting(frame: Buffer): { greeting: Greeting } | { refusal: { reason: RefusalReason; detail: string } } {
  if (frame.length >= 5 && frame.subarray(0, 3).equals(REFUSAL_MAGIC)) {
    const reason = (Object.keys(REASON_CODES) as RefusalReason[]).find((r) => REASON_CODES[r] === frame[3])
    if (!reason) throw new MalformedMessageError(`refusal of unknown reason ${frame[3]}`)
    return { refusal: { reason, detail: frame.toString('utf8', 5, 5 + frame[4]!) } }
  }
  if (frame.length < GREETING_MAGIC.length + 3 + GREETING_NONCE_BYTES + 3 || !frame.subarray(0, 3).equals(GREETING_MAGIC)) {
    throw new MalformedMessageError('the peer did not greet as a session-cluster node')
  }
  let at = GREETING_MAGIC.length
  if (frame[at++] !== GREETING_LAYOUT) throw new MalformedMessageError(`greeting of unknown layout ${frame[at - 1]}`)
  const lowest = frame[at++]!
  const highest = frame[at++]!
  if (lowest === 0 || highest < lowest) throw new MalformedMessageError('greeting has a bad version range')
  const nonce = Buffer.from(frame.subarray(at, at + GREETING_NONCE_BYTES))
  at += GREETING_NONCE_BYTES
  const port = frame.readUInt16BE(at)
  const hostLength = frame[at + 2]!
  if (frame.length !== at + 3 + hostLength) throw new MalformedMessageError('greeting has a bad host length')
  try {
    const host = validateHost(frame.toString('utf8', at + 3), 'greeting host')
    return { greeting: { address: { host, port: validatePort(port, 'greeting port', { allowZero: false }) }, lowest, highest, nonce } }
  } catch (error) {
    throw new MalformedMessageError('greeting carries an invalid address', { cause: error })
  }
}

/** The first bytes a non-node answered with, printable, for the log line that says what the port is. */
export function describeForeignBytes(bytes: Buffer): string {
  return JSON.stringify(bytes.subarray(0, 40).toString('latin1').replace(/[^\x20-\x7e]/g, '.'))
}
