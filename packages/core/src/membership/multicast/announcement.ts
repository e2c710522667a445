import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto'
import { MalformedMessageError } from '../../errors.js'
import { type Address, ROUTE_PATTERN, validateHost, validatePort } from '../../member.js'

/**
 * One multicast announcement (Tomcat's McastService member broadcast), a UDP datagram:
 *
 *   "SCM" | u8 layout 1 | u8 n | cluster name (n) | u8 n | incarnation id (n) | u8 n | route (n) | u16 port |
 *   u8 n | host (n) | HMAC-SHA256 (32) over all of the above
 *
 * The cluster name travels in the clear so that a node tells another cluster on the same group (ignored) from a
 * forger or a wrong secret (counted, logged). The HMAC key is derived from the cluster key (scrypt of the secret,
 * the cluster name bound in), so it authenticates the sender's address: nobody without the secret can make the
 * members dial an address of their choosing. A replayed announcement only makes members dial an address a member
 * once had, where the authenticated TCP handshake stops anyone who is not one.
 */
const MAGIC = Buffer.from('SCM', 'latin1')
const LAYOUT = 0x01
export const MAC_BYTES = 32
const KEY_LABEL = 'session-cluster/v3 multicast announcement key'
/** Announcements are small; a bigger datagram is no announcement of ours. */
export const MAX_ANNOUNCEMENT_BYTES = 1_024

export interface Announcement {
  clusterName: string
  id: string
  route: string
  address: Address
}

/** The announcement key of a cluster key; a cluster without a secret (loopback only) uses a key anyone knows. */
export function announcementKey(clusterKey: Uint8Array | undefined): Buffer {
  return Buffer.from(hkdfSync('sha256', clusterKey ?? Buffer.alloc(32), Buffer.alloc(0), KEY_LABEL, 32))
}

export function encodeAnnouncement(a: Announcement, key: Uint8Array): Buffer {
  const fields = [a.clusterName, a.id, a.route].map((text) => lengthPrefixed(text))
  const port = Buffer.alloc(2)
  port.writeUInt16BE(a.address.port)
  const body = Buffer.concat([MAGIC, Buffer.from([LAYOUT]), ...fields, port, lengthPrefixed(a.address.host)])
  return Buffer.concat([body, mac(key, body)])
}

/** What a datagram is: ours and authentic, another cluster's, or one whose HMAC fails under every key. */
export type DecodedAnnouncement =
  | { kind: 'member'; announcement: Announcement }
  | { kind: 'other-cluster'; clusterName: string }
  | { kind: 'unauthenticated'; clusterName: string }

/** Throws `MalformedMessageError` for bytes that are no announcement at all. */
export function decodeAnnouncement(datagram: Buffer, clusterName: string, keys: readonly Uint8Array[]): DecodedAnnouncement {
  if (datagram.length > MAX_ANNOUNCEMENT_BYTES || datagram.length < MAGIC.length + 1 + MAC_BYTES || !datagram.subarray(0, 3).equals(MAGIC)) {
    throw new MalformedMessageError('not a session-cluster announcement')
  }
  if (datagram[3] !== LAYOUT) throw new MalformedMessageError(`announcement of unknown layout ${datagram[3]}`)
  const body = datagram.subarray(0, datagram.length - MAC_BYTES)
  const reader = { at: 4 }
  const name = readText(body, reader)
  if (name !== clusterName) return { kind: 'other-cluster', clusterName: name }
  const tag = datagram.subarray(datagram.length - MAC_BYTES)
  if (!keys.some((key) => timingSafeEqual(mac(key, body), tag))) return { kind: 'unauthenticated', clusterName: name }
  const id = readText(body, reader)
  const route = readText(body, reader)
  if (reader.at + 2 > body.length) throw new MalformedMessageError('announcement is truncated')
  const port = body.readUInt16BE(reader.at)
  reader.at += 2
  const host = readText(body, reader)
  if (reader.at !== body.length) throw new MalformedMessageError('announcement has trailing bytes')
  if (!/^[A-Za-z0-9_-]{8,64}$/.test(id) || !ROUTE_PATTERN.test(route)) throw new MalformedMessageError('announcement names a bad id or route')
  try {
    return { kind: 'member', announcement: { clusterName: name, id, route, address: { host: validateHost(host), port: validatePort(port, 'port', { allowZero: false }) } } }
  } catch (error) {
    throw new MalformedMessageError('announcement carries a bad address', { cause: error })
  }
}

function mac(key: Uint8Array, body: Uint8Array): Buffer {
  return createHmac('sha256', key).update(body).digest()
}

function lengthPrefixed(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8')
  if (bytes.length > 255) throw new MalformedMessageError(`announcement field too long: ${bytes.length} bytes`)
  return Buffer.concat([Buffer.from([bytes.length]), bytes])
}

function readText(body: Buffer, reader: { at: number }): string {
  const length = body[reader.at]
  if (length === undefined || reader.at + 1 + length > body.length) throw new MalformedMessageError('announcement is truncated')
  const text = body.toString('utf8', reader.at + 1, reader.at + 1 + length)
  reader.at += 1 + length
  return text
}
