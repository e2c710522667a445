import { randomBytes } from 'node:crypto'
import { DecryptionError, InvalidParametersError, ReplayError } from '../errors.js'
import { deriveConnectionKey, openRecord, sealRecord, TAG_BYTES } from './aes-gcm.js'
import type { ConnectionBinding, FrameOpener, FrameProtector, FrameSealer } from './frame-protector.js'
import { deriveClusterKey } from './keys.js'
import {
  FIRST_RECORD,
  LEGACY_FIRST_RECORD,
  MAX_ADDRESS_BYTES,
  NEXT_PREFIX_BYTES,
  NEXT_RECORD,
  NONCE_BYTES_ON_WIRE,
  readUint64,
  writeUint64,
} from './record-format.js'

export interface AesGcmProtectorInit {
  /**
   * The cluster's shared secret, or several during a rotation: the first one seals, any of them opens. Roll a new
   * secret in with `[old, new]` on every node, then `[new, old]`, then `[new]`: no connection fails on the way.
   */
  secret: string | Uint8Array | ReadonlyArray<string | Uint8Array>
  /** Bound into the key: nodes of another cluster (same secret) cannot talk to this one. */
  clusterName: string
}

/** The most bytes sealing adds to a payload (a connection's first record: kind, nonce, address, tag). */
export const AES_GCM_OVERHEAD_BYTES = 1 + NONCE_BYTES_ON_WIRE + 1 + MAX_ADDRESS_BYTES + TAG_BYTES

/**
 * AES-256-GCM record protection (record layout: `record-format.ts`). Every connection gets its own key, derived
 * from the cluster key (scrypt of the secret), a fresh nonce from each end and both ends' addresses, and numbers
 * its records, the number being the nonce. So a record is good on its own connection only: replayed to another
 * node, to the same node later, reflected back, or moved between connections, it fails to authenticate; within a
 * connection, records cannot be replayed, dropped or reordered (consecutive sequence numbers). No clock is
 * involved: freshness comes from the receiver's nonce.
 *
 * @example
 * const protector = aesGcmProtector({ secret: process.env.CLUSTER_SECRET!, clusterName: 'shop' })
 */
export function aesGcmProtector(init: AesGcmProtectorInit): FrameProtector {
  const secrets = Array.isArray(init.secret) ? init.secret : [init.secret]
  if (secrets.length === 0) throw new InvalidParametersError('secret must name at least one secret')
  const clusterKeys = secrets.map((secret) => deriveClusterKey(secret as string | Uint8Array, init.clusterName))

  return {
    encrypts: true,
    secrets: clusterKeys.length,
    outbound(binding): FrameSealer {
      const sender = Buffer.from(binding.sender, 'utf8')
      if (sender.length > MAX_ADDRESS_BYTES) throw new InvalidParametersError(`address ${binding.sender} is too long`)
      const senderNonce = randomBytes(NONCE_BYTES_ON_WIRE)
      const key = deriveConnectionKey(clusterKeys[0]!, senderNonce, binding.receiverNonce, binding.sender, binding.receiver)
      let seq = 0
      return {
        seal(plaintext) {
          if (seq === 0) {
            const prefix = Buffer.allocUnsafe(1 + NONCE_BYTES_ON_WIRE + 1 + sender.length)
            prefix[0] = FIRST_RECORD
            senderNonce.copy(prefix, 1)
            prefix[1 + NONCE_BYTES_ON_WIRE] = sender.length
            sender.copy(prefix, 2 + NONCE_BYTES_ON_WIRE)
            return sealRecord(key, seq++, prefix, [plaintext])
          }
          const prefix = Buffer.allocUnsafe(NEXT_PREFIX_BYTES)
          prefix[0] = NEXT_RECORD
          writeUint64(prefix, 1, seq)
          return sealRecord(key, seq++, prefix, [plaintext])
        },
      }
    },
    inbound(binding): FrameOpener {
      return new AesGcmOpener(clusterKeys, binding)
    },
  }
}

class AesGcmOpener implements FrameOpener {
  readonly #clusterKeys: readonly Buffer[]
  readonly #binding: ConnectionBinding
  #key: Buffer | undefined
  #nextSeq = 0
  /** After one failure the connection is untrusted: everything else it sends is refused. */
  #failure: Error | undefined
  claimedSender: string | undefined
  secretIndex: number | undefined

  constructor(clusterKeys: readonly Buffer[], binding: ConnectionBinding) {
    this.#clusterKeys = clusterKeys
    this.#binding = binding
  }

  open(frame: Uint8Array): Uint8Array {
    if (this.#failure) throw this.#failure
    try {
      const record = Buffer.from(frame.buffer, frame.byteOffset, frame.length)
      return this.#key ? this.#openNext(record, this.#key) : this.#openFirst(record)
    } catch (error) {
      this.#failure =
        error instanceof DecryptionError || error instanceof ReplayError ? error : new DecryptionError('record could not be opened', { cause: error })
      throw this.#failure
    }
  }

  #openFirst(record: Buffer): Buffer {
    if (record[0] === LEGACY_FIRST_RECORD) {
      throw new DecryptionError('the first record is protocol 2 handshake (a node of an older release)')
    }
    // Only a connection's first record names its key: a later one (say, the tail of a recording) cannot be
    // authenticated without it.
    if (record[0] !== FIRST_RECORD) throw new DecryptionError('a connection must begin with its first record')
    const addressAt = 1 + NONCE_BYTES_ON_WIRE
    if (record.length < addressAt + 1 + TAG_BYTES) throw new DecryptionError(`record of ${record.length} bytes is too short to open a connection`)
    const senderNonce = record.subarray(1, addressAt)
    const bodyAt = addressAt + 1 + record[addressAt]!
    if (record.length < bodyAt + TAG_BYTES) throw new DecryptionError('first record is shorter than its sender address')
    this.claimedSender = record.toString('utf8', addressAt + 1, bodyAt)
    const { receiverNonce, receiver } = this.#binding
    const body = record.subarray(bodyAt)
    // Try each accepted secret (one, or a few during a rotation); only the failure of all of them counts.
    for (let i = 0; i < this.#clusterKeys.length; i++) {
      const key = deriveConnectionKey(this.#clusterKeys[i]!, senderNonce, receiverNonce, this.claimedSender, receiver)
      let plaintext: Buffer
      try {
        plaintext = openRecord(key, 0, body)
      } catch (error) {
        if (i === this.#clusterKeys.length - 1) throw error
        continue
      }
      this.#key = key
      this.#nextSeq = 1
      this.secretIndex = i
      return plaintext
    }
    throw new DecryptionError('no secret to open the record with')
  }

  #openNext(record: Buffer, key: Buffer): Buffer {
    if (record.length < NEXT_PREFIX_BYTES + TAG_BYTES) throw new DecryptionError(`record of ${record.length} bytes is too short`)
    if (record[0] === FIRST_RECORD || record[0] === LEGACY_FIRST_RECORD) throw new ReplayError('a first record in the middle of a connection')
    if (record[0] !== NEXT_RECORD) throw new DecryptionError(`unknown record kind ${record[0]}`)
    const seq = readUint64(record, 1)
    if (seq !== this.#nextSeq) throw new ReplayError(`record seq ${seq}, expected ${this.#nextSeq}`)
    const plaintext = openRecord(key, seq, record.subarray(NEXT_PREFIX_BYTES))
    this.#nextSeq++
    return plaintext
  }
}
