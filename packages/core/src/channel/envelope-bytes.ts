import { type Envelope, Kind, PROTOCOL_VERSION } from './envelope.js'

/**
 * The envelope's CBOR, written and read by hand: every frame has one, and its shape is fixed (a version, a kind, an
 * id and a body: bytes, text or null), so a general encoder's set-up, the plain-data walk and the tuple's checks cost
 * more than the envelope itself. The bytes are the ones cbor-x writes for the same tuple when the body is a Buffer,
 * as the codec returns (ids from 2^32 on, the usual case since ids start at a random point, as float64, as cbor-x
 * writes them), so members that encode envelopes either way understand each other. Two differences, both harmless:
 * another Uint8Array body goes as a plain byte string, where cbor-x adds tag 64 (the receiver gets the same bytes);
 * and a failure text with a lone surrogate is written with one U+FFFD where cbor-x writes the surrogate's three
 * bytes (which decode as three). `readEnvelope` takes only that canonical shape and answers undefined for anything
 * else, which the channel then decodes the general way (and refuses with the general errors).
 */
export function writeEnvelope(kind: Kind, id: number, body: Envelope[3]): Uint8Array {
  const text = typeof body === 'string' ? Buffer.from(body, 'utf8') : undefined
  const bytes = text ?? (body as Uint8Array | null)
  const bodyLength = bytes === null ? 0 : bytes.length
  const frame = Buffer.allocUnsafe(1 + 1 + 1 + 9 + 9 + bodyLength)
  frame[0] = 0x84 // array of 4
  frame[1] = PROTOCOL_VERSION
  frame[2] = kind
  let at = writeId(frame, 3, id)
  if (bytes === null) frame[at++] = 0xf6
  else {
    at = writeHead(frame, at, text ? 3 : 2, bodyLength)
    frame.set(bytes, at)
    at += bodyLength
  }
  return frame.subarray(0, at)
}

/** The envelope in `frame` if it has the canonical shape `writeEnvelope` writes; undefined otherwise. */
export function readEnvelope(frame: Uint8Array): Envelope | undefined {
  if (frame.length < 4 || frame[0] !== 0x84 || frame[1] !== PROTOCOL_VERSION) return undefined
  const kind = frame[2]!
  if (kind > Kind.Failure) return undefined
  const id = readId(frame, 3)
  if (id === undefined) return undefined
  let at = id.end
  const initial = frame[at++]
  if (initial === undefined) return undefined
  if (initial === 0xf6) return at === frame.length ? [PROTOCOL_VERSION, kind, id.value, null] : undefined
  const major = initial >> 5
  if (major !== 2 && major !== 3) return undefined
  const length = readLength(frame, at, initial & 0x1f)
  if (length === undefined || length.end + length.value !== frame.length) return undefined
  at = length.end
  // A view of the frame, as cbor-x's decoder gives for a byte string.
  const view = Buffer.from(frame.buffer, frame.byteOffset + at, length.value)
  const body = major === 2 ? view : view.toString('utf8')
  return [PROTOCOL_VERSION, kind, id.value, body]
}

function writeHead(out: Buffer, at: number, major: number, n: number): number {
  const type = major << 5
  if (n < 24) out[at++] = type | n
  else if (n < 0x100) {
    out[at++] = type | 24
    out[at++] = n
  } else if (n < 0x1_0000) {
    out[at++] = type | 25
    out.writeUInt16BE(n, at)
    at += 2
  } else {
    out[at++] = type | 26
    out.writeUInt32BE(n, at)
    at += 4
  }
  return at
}

function writeId(out: Buffer, at: number, id: number): number {
  if (id < 0x1_0000_0000) return writeHead(out, at, 0, id)
  out[at++] = 0xfb // cbor-x writes integers from 2^32 on as float64
  out.writeDoubleBE(id, at)
  return at + 8
}

function readId(frame: Uint8Array, at: number): { value: number; end: number } | undefined {
  const initial = frame[at]
  if (initial === undefined) return undefined
  if (initial === 0xfb) {
    if (at + 9 > frame.length) return undefined
    const value = new DataView(frame.buffer, frame.byteOffset + at + 1, 8).getFloat64(0)
    return Number.isSafeInteger(value) && value >= 0x1_0000_0000 ? { value, end: at + 9 } : undefined
  }
  return initial >> 5 === 0 ? readLength(frame, at + 1, initial & 0x1f) : undefined
}

/** The argument of a CBOR head whose initial byte's low bits are `info`, written at its shortest (as encoders do). */
function readLength(frame: Uint8Array, at: number, info: number): { value: number; end: number } | undefined {
  if (info < 24) return { value: info, end: at }
  if (info === 24) return at + 1 <= frame.length && frame[at]! >= 24 ? { value: frame[at]!, end: at + 1 } : undefined
  if (info === 25) {
    if (at + 2 > frame.length) return undefined
    const value = (frame[at]! << 8) | frame[at + 1]!
    return value >= 0x100 ? { value, end: at + 2 } : undefined
  }
  if (info === 26) {
    if (at + 4 > frame.length) return undefined
    const value = ((frame[at]! << 24) >>> 0) + (frame[at + 1]! << 16) + (frame[at + 2]! << 8) + frame[at + 3]!
    return value >= 0x1_0000 ? { value, end: at + 4 } : undefined
  }
  return undefined
}
