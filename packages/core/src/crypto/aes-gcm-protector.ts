import { randomBytes } from 'node:crypto'
import type { Clock } from '../clock/clock.js'
import { systemClock } from '../clock/system-clock.js'
import { DecryptionError, InvalidParametersError, ReplayError } from '../errors.js'
import { deriveConnectionKey, openRecord, sealRecord, TAG_BYTES } from './aes-gcm.js'
import type { FrameOpener, FrameProtector, FrameSealer } from './frame-protector.js'
import { deriveClusterKey } from './keys.js'
import {
  CONNECTION_ID_BYTES,
  FIRST_PREFIX_BYTES,
  FIRST_RECORD,
  NEXT_PREFIX_BYTES,
  NEXT_RECORD,
  readUint64,
  SENT_AT_BYTES,
  writeUint64,
} from './record-format.js'
import { admitFirstRecord, RecentConnectionIds } from './replay-guard.js'

export interface AesGcmProtectorInit {
  /** The cluster's shared secret; every node must have the same one. */
  secret: string | Uint8Array
  /** Bound into the key and every frame: nodes of another cluster (same secret) cannot talk to this one. */
  clusterName: string
  /**
   * How far a connection's first frame may be from local time, and how long its connection id is
   * remembered. Node clocks must agree within this.
   * @default 60_000
   */
  replayWindowMs?: number
  /**
   * At most this many connections may start within one replay window (fails closed beyond it).
   * @default 65_536
   */
  maxRecentConnections?: number
  /** @default systemClock */
  clock?: Clock
}

export const AES_GCM_DEFAULTS = {
  replayWindowMs: 60_000,
  maxRecentConnections: 65_536,
  clock: systemClock,
} as const

/** The most bytes sealing adds to a payload (a connection's first record: kind, connection id, sent-at, tag). */
export const AES_GCM_OVERHEAD_BYTES = FIRST_PREFIX_BYTES + SENT_AT_BYTES + TAG_BYTES

/**
 * AES-256-GCM record protection with replay defence (record layout: `record-format.ts`). Every connection
 * gets its own key (HKDF of the cluster key and a random 128-bit connection id) and numbers its records, the
 * number being the nonce. A recorded connection cannot be replayed (its id is remembered through the window,
 * and an older recording is stale), and records within a connection cannot be replayed, dropped or
 * reordered (consecutive sequence numbers).
 *
 * @example
 * const protector = aesGcmProtector({ secret: process.env.CLUSTER_SECRET!, clusterName: 'shop' })
 */
export function aesGcmProtector(init: AesGcmProtectorInit): FrameProtector {
  const { secret, clusterName, replayWindowMs, maxRecentConnections, clock } = { ...AES_GCM_DEFAULTS, ...init }
  if (!Number.isInteger(replayWindowMs) || replayWindowMs <= 0) {
    throw new InvalidParametersError(`replayWindowMs must be a positive integer, got ${String(replayWindowMs)}`)
  }
  if (!Number.isInteger(maxRecentConnections) || maxRecentConnections <= 0) {
    throw new InvalidParametersError(`maxRecentConnections must be a positive integer, got ${String(maxRecentConnections)}`)
  }
  const clusterKey = deriveClusterKey(secret, clusterName)
  const recent = new RecentConnectionIds(maxRecentConnections)

  return {
    encrypts: true,
    outbound(): FrameSealer {
      const connectionId = randomBytes(CONNECTION_ID_BYTES)
      let key: Buffer | undefined
      let seq = 0
      return {
        seal(plaintext) {
          key ??= deriveConnectionKey(clusterKey, connectionId)
          if (seq === 0) {
            const prefix = Buffer.allocUnsafe(FIRST_PREFIX_BYTES)
            prefix[0] = FIRST_RECORD
            connectionId.copy(prefix, 1)
            const sentAt = Buffer.allocUnsafe(SENT_AT_BYTES)
            writeUint64(sentAt, 0, clock.now())
            return sealRecord(key, seq++, prefix, [sentAt, plaintext])
          }
          const prefix = Buffer.allocUnsafe(NEXT_PREFIX_BYTES)
          prefix[0] = NEXT_RECORD
          writeUint64(prefix, 1, seq)
          return sealRecord(key, seq++, prefix, [plaintext])
        },
      }
    },
    inbound(): FrameOpener {
      let key: Buffer | undefined
      let nextSeq = 0
      // After one failure the connection is untrusted: refuse everything else it sends.
      let failure: Error | undefined

      const openFirst = (record: Buffer): Buffer => {
        if (record.length < FIRST_PREFIX_BYTES + SENT_AT_BYTES + TAG_BYTES) {
          throw new DecryptionError(`record of ${record.length} bytes is too short to open a connection`)
        }
        // Only a connection's first record names its key: a later one (say, the tail of a recording) cannot
        // be authenticated without it.
        if (record[0] !== FIRST_RECORD) throw new DecryptionError('a connection must begin with its first record')
        const connectionId = record.subarray(1, FIRST_PREFIX_BYTES)
        const connectionKey = deriveConnectionKey(clusterKey, connectionId)
        const plaintext = openRecord(connectionKey, 0, record.subarray(FIRST_PREFIX_BYTES))
        if (plaintext.length < SENT_AT_BYTES) throw new DecryptionError('first record is too short to carry its time')
        admitFirstRecord(recent, connectionId.toString('hex'), readUint64(plaintext, 0), clock.now(), replayWindowMs)
        key = connectionKey
        nextSeq = 1
        return plaintext.subarray(SENT_AT_BYTES)
      }

      const openNext = (record: Buffer, connectionKey: Buffer): Buffer => {
        if (record.length < NEXT_PREFIX_BYTES + TAG_BYTES) throw new DecryptionError(`record of ${record.length} bytes is too short`)
        if (record[0] === FIRST_RECORD) throw new ReplayError('a first record in the middle of a connection')
        if (record[0] !== NEXT_RECORD) throw new DecryptionError(`unknown record kind ${record[0]}`)
        const seq = readUint64(record, 1)
        if (seq !== nextSeq) throw new ReplayError(`record seq ${seq}, expected ${nextSeq}`)
        const plaintext = openRecord(connectionKey, seq, record.subarray(NEXT_PREFIX_BYTES))
        nextSeq++
        return plaintext
      }

      return {
        open(frame) {
          if (failure) throw failure
          try {
            const record = Buffer.from(frame.buffer, frame.byteOffset, frame.length)
            return key ? openNext(record, key) : openFirst(record)
          } catch (error) {
            failure =
              error instanceof DecryptionError || error instanceof ReplayError
                ? error
                : new DecryptionError('record could not be opened', { cause: error })
            throw failure
          }
        },
      }
    },
  }
}
