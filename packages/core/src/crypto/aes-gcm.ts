import { createCipheriv, createDecipheriv, type KeyObject } from 'node:crypto'
import { DecryptionError } from '../errors.js'
import type { NoncePool } from './nonce-pool.js'

/**
 * AES-256-GCM as pure functions over bytes (cf. memberlist's security.go): the protector adds the
 * per-connection state, these only seal and open. Sealed layout: nonce (12) | ciphertext | tag (16).
 * The key is a KeyObject: cheaper per frame than handing OpenSSL raw key bytes each time.
 */
export const NONCE_BYTES = 12
export const TAG_BYTES = 16
const ALGORITHM = 'aes-256-gcm'

/** Encrypt the concatenation of `parts` with a fresh nonce from `nonces`. */
export function encryptFrame(key: KeyObject, aad: Buffer, nonces: NoncePool, parts: readonly Uint8Array[]): Buffer {
  let plaintextBytes = 0
  for (const part of parts) plaintextBytes += part.length
  const sealed = Buffer.allocUnsafe(NONCE_BYTES + plaintextBytes + TAG_BYTES)
  nonces.fill(sealed, 0)
  const cipher = createCipheriv(ALGORITHM, key, sealed.subarray(0, NONCE_BYTES), { authTagLength: TAG_BYTES })
  cipher.setAAD(aad)
  let offset = NONCE_BYTES
  for (const part of parts) offset += cipher.update(part).copy(sealed, offset)
  offset += cipher.final().copy(sealed, offset)
  cipher.getAuthTag().copy(sealed, offset)
  return sealed
}

/** Decrypt and authenticate; any failure (wrong key or AAD, tampering, truncation) is a `DecryptionError`. */
export function decryptFrame(key: KeyObject, aad: Buffer, sealed: Uint8Array): Buffer {
  if (sealed.length < NONCE_BYTES + TAG_BYTES) {
    throw new DecryptionError(`frame of ${sealed.length} bytes is shorter than nonce and tag`)
  }
  const bytes = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.length)
  const tagAt = bytes.length - TAG_BYTES
  try {
    const decipher = createDecipheriv(ALGORITHM, key, bytes.subarray(0, NONCE_BYTES), { authTagLength: TAG_BYTES })
    decipher.setAAD(aad)
    decipher.setAuthTag(bytes.subarray(tagAt))
    const head = decipher.update(bytes.subarray(NONCE_BYTES, tagAt))
    const tail = decipher.final()
    return tail.length === 0 ? head : Buffer.concat([head, tail])
  } catch (error) {
    throw new DecryptionError('frame failed authentication (wrong key or cluster name, or tampered)', { cause: error })
  }
}
