import { MalformedMessageError } from '../../errors.js'
import { type Address, validateHost, validatePort } from '../../member.js'
import { PROTOCOL_VERSION } from '../../channel/envelope.js'

/**
 * The first frame (inside the first sealed record) on every outbound connection: the wire protocol versions the
 * sender speaks, and its advertised listening address, so the receiver attributes the connection's frames to
 * the address it can answer on, not to an ephemeral port.
 * Layout: "SCH" | 0x02 | u8 lowest version | u8 highest version | u16 port | u8 host length | host (utf8).
 * The first layout ("SCH" | 0x01 | port | host) was sent by nodes that spoke protocol 1 only.
 *
 * Policy: a node of protocol version N speaks N-1 and N, so a rolling upgrade from one release to the next
 * never splits the cluster; a peer with no version in common is refused, by name, before any of its frames
 * is read. (Protocol 2 replaced protocol 1's messages; a node of the release before it is refused.)
 */
const MAGIC = Buffer.from('SCH', 'latin1')
const LAYOUT_V1 = 0x01
const LAYOUT_V2 = 0x02

/** The protocol versions this node speaks, lowest first. */
export const SUPPORTED_PROTOCOLS = { lowest: PROTOCOL_VERSION, highest: PROTOCOL_VERSION } as const

export interface Hello {
  address: Address
  /** The versions the sender speaks. */
  lowest: number
  highest: number
}

export function encodeHello(address: Address, versions: { lowest: number; highest: number } = SUPPORTED_PROTOCOLS): Buffer {
  const host = Buffer.from(address.host, 'utf8')
  const out = Buffer.allocUnsafe(MAGIC.length + 6 + host.length)
  MAGIC.copy(out, 0)
  let at = MAGIC.length
  out.writeUInt8(LAYOUT_V2, at++)
  out.writeUInt8(versions.lowest, at++)
  out.writeUInt8(versions.highest, at++)
  out.writeUInt16BE(address.port, at)
  out.writeUInt8(host.length, at + 2)
  host.copy(out, at + 3)
  return out
}

export function decodeHello(frame: Uint8Array): Hello {
  const bytes = Buffer.from(frame.buffer, frame.byteOffset, frame.length)
  if (bytes.length < MAGIC.length + 4 || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new MalformedMessageError('first frame is not a session-cluster hello')
  }
  const layout = bytes.readUInt8(MAGIC.length)
  let at = MAGIC.length + 1
  let lowest = 1
  let highest = 1
  if (layout === LAYOUT_V2) {
    if (bytes.length < at + 5) throw new MalformedMessageError('hello is too short')
    lowest = bytes.readUInt8(at++)
    highest = bytes.readUInt8(at++)
    if (lowest === 0 || highest < lowest) throw new MalformedMessageError('hello has a bad version range')
  } else if (layout !== LAYOUT_V1) {
    throw new MalformedMessageError(`hello of unknown layout ${layout}`)
  }
  const port = bytes.readUInt16BE(at)
  const hostLength = bytes.readUInt8(at + 2)
  if (bytes.length !== at + 3 + hostLength) throw new MalformedMessageError('hello has a bad host length')
  const host = bytes.toString('utf8', at + 3)
  try {
    return { address: { host: validateHost(host, 'hello host'), port: validatePort(port, 'hello port', { allowZero: false }) }, lowest, highest }
  } catch (error) {
    throw new MalformedMessageError('hello carries an invalid address', { cause: error })
  }
}

/** The version both ends speak (the highest in common), or undefined when they share none. */
export function agreedVersion(peer: { lowest: number; highest: number }, local: { lowest: number; highest: number } = SUPPORTED_PROTOCOLS): number | undefined {
  const version = Math.min(peer.highest, local.highest)
  return version >= Math.max(peer.lowest, local.lowest) ? version : undefined
}
