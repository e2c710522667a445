import { createCipheriv, createDecipheriv, hkdfSync } from 'node:crypto'
import { DecryptionError } from '../errors.js'
import { KEY_BYTES } from './keys.js'

/**
 * AES-256-GCM as functions over bytes (cf. memberlist's security.go): the protector adds the per-connection
 * state, these only derive, seal and open. Each connection has its own key, derived from the cluster key, both
 * ends' fresh nonces and both ends' addresses, and numbers its records: the nonce is the record's sequence
 * number, so no nonce repeats under any key however long the cluster runs (random 96-bit nonces under one
 * cluster-wide key would reach NIST's 2^32-messages limit within days on a busy cluster).
 */
export const TAG_BYTES = 16
export const NONCE_BYTES = 12
const ALGORITHM = 'aes-256-gcm'
const CONNECTION_KEY_LABEL = 'session-cluster/v3 connection key, sender to receiver'

/**
 * HKDF-SHA256(cluster key, salt = sender nonce | receiver nonce, info = label, sender, receiver): the key of one
 * connection. A record sealed for one connection fails on any other: another receiver (its address), a later
 * connection to the same receiver (its nonce), or the opposite direction (the order of the addresses).
 */
export function deriveConnectionKey(clusterKey: Uint8Array, senderNonce: Uint8Array, receiverNonce: Uint8Array, sender: string, receiver: string): Buffer {
  const salt = Buffer.concat([senderNonce, receiverNonce])
  const info = Buffer.from(`${CONNECTION_KEY_LABEL}\u0000${sender}\u0000${receiver}`, 'utf8')
  return Buffer.from(hkdfSync('sha256', clusterKey, salt, info, KEY_BYTES))
}

/** The nonce of record `seq`: 4 zero bytes, then the sequence number as a u64 (big-endian). */
function nonceFor(seq: number): Buffer {
  const nonce = Buffer.alloc(NONCE_BYTES)
  nonce.writeUInt32BE(Math.floor(seq / 2 ** 32), 4)
  nonce.writeUInt32BE(seq >>> 0, 8)
  return nonce
}

/**
 * Encrypt the concatenation of `parts` as record `seq` into a new buffer: `prefix` (sent in the clear; it
 * is bound to the record through the key and nonce), the ciphertext, then the tag.
 */
export function sealRecord(key: Buffer, seq: number, prefix: Uint8Array, parts: readonly Uint8Array[]): Buffer {
  let plaintextBytes = 0
  for (const part of parts) plaintextBytes += part.length
  const sealed = Buffer.allocUnsafe(prefix.length + plaintextBytes + TAG_BYTES)
  sealed.set(prefix, 0)
  const cipher = createCipheriv(ALGORITHM, key, nonceFor(seq), { authTagLength: TAG_BYTES })
  let offset = prefix.length
  for (const part of parts) offset += cipher.update(part).copy(sealed, offset)
  offset += cipher.final().copy(sealed, offset)
  cipher.getAuthTag().copy(sealed, offset)
  return sealed
}

/** Decrypt and authenticate `body` (ciphertext then tag) as record `seq`; any failure is a `DecryptionError`. */
export function openRecord(key: Buffer, seq: number, body: Uint8Array): Buffer {
  if (body.length < TAG_BYTES) throw new DecryptionError(`record of ${body.length} bytes is shorter than its tag`)
  const bytes = Buffer.from(body.buffer, body.byteOffset, body.length)
  const tagAt = bytes.length - TAG_BYTES
  try {
    const decipher = createDecipheriv(ALGORITHM, key, nonceFor(seq), { authTagLength: TAG_BYTES })
    decipher.setAuthTag(bytes.subarray(tagAt))
    const head = decipher.update(bytes.subarray(0, tagAt))
    const tail = decipher.final()
    return tail.length === 0 ? head : Buffer.concat([head, tail])
  } catch (error) {
    throw new DecryptionError('record failed authentication (wrong key or cluster name, or tampered)', { cause: error })
  }
}
