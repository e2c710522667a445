import { MalformedMessageError } from '../../errors.js'
import { type Address, validateHost, validatePort } from '../../member.js'

/**
 * The first frame (inside the first sealed record) on every outbound connection: the sender's advertised listening address, so
 * the receiver attributes the connection's frames to the address it can answer on, not to an ephemeral port.
 * Layout: "SCH" | version 1 | u16 port | u8 host length | host (utf8).
 */
const MAGIC = Buffer.from('SCH\x01', 'latin1')

export function encodeHello(address: Address): Buffer {
  const host = Buffer.from(address.host, 'utf8')
  const out = Buffer.allocUnsafe(MAGIC.length + 3 + host.length)
  MAGIC.copy(out, 0)
  out.writeUInt16BE(address.port, MAGIC.length)
  out.writeUInt8(host.length, MAGIC.length + 2)
  host.copy(out, MAGIC.length + 3)
  return out
}

export function decodeHello(frame: Uint8Array): Address {
  const bytes = Buffer.from(frame.buffer, frame.byteOffset, frame.length)
  if (bytes.length < MAGIC.length + 3 || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new MalformedMessageError('first frame is not a hello')
  }
  const port = bytes.readUInt16BE(MAGIC.length)
  const hostLength = bytes.readUInt8(MAGIC.length + 2)
  if (bytes.length !== MAGIC.length + 3 + hostLength) throw new MalformedMessageError('hello has a bad host length')
  const host = bytes.toString('utf8', MAGIC.length + 3)
  try {
    return { host: validateHost(host, 'hello host'), port: validatePort(port, 'hello port', { allowZero: false }) }
  } catch (error) {
    throw new MalformedMessageError('hello carries an invalid address', { cause: error })
  }
}
