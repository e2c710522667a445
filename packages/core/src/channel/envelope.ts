import { MalformedMessageError } from '../errors.js'

/** Version of the channel envelope; a peer speaking another version gets an error reply, never a crash. */
export const PROTOCOL_VERSION = 3

/** Envelope kinds on the wire (small integers keep frames short). */
export enum Kind {
  /** A message; id > 0 asks for an ack after it has been applied. */
  Message = 0,
  Ack = 1,
  Request = 2,
  Response = 3,
  /** Negative ack or failed request: the body is the remote error text. */
  Failure = 4,
}

/**
 * `[version, kind, id, body]`. The body is the message encoded once by the codec (a byte string),
 * so a fan-out to N peers encodes the payload once and only the small envelope per peer.
 */
export type Envelope = [version: number, kind: Kind, id: number, body: Uint8Array | string | null]

export function parseEnvelope(value: unknown): Envelope {
  if (!Array.isArray(value) || value.length !== 4) throw new MalformedMessageError('envelope is not a 4-tuple')
  const [version, kind, id, body] = value as unknown[]
  if (version !== PROTOCOL_VERSION) {
    throw new MalformedMessageError(`unsupported protocol version ${String(version)} (this node speaks ${PROTOCOL_VERSION})`)
  }
  if (typeof kind !== 'number' || kind < Kind.Message || kind > Kind.Failure) {
    throw new MalformedMessageError(`unknown envelope kind ${String(kind)}`)
  }
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) throw new MalformedMessageError('bad envelope id')
  if (body !== null && typeof body !== 'string' && !(body instanceof Uint8Array)) {
    throw new MalformedMessageError('bad envelope body')
  }
  return [version, kind as Kind, id, body as Envelope[3]]
}
