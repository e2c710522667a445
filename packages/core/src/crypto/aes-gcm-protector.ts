import { createSecretKey, randomBytes } from 'node:crypto'
import type { Clock } from '../clock/clock.js'
import { systemClock } from '../clock/system-clock.js'
import { DecryptionError, InvalidParametersError, ReplayError } from '../errors.js'
import { decryptFrame, encryptFrame, NONCE_BYTES, TAG_BYTES } from './aes-gcm.js'
import type { FrameOpener, FrameProtector, FrameSealer } from './frame-protector.js'
import { CONNECTION_ID_BYTES, HEADER_BYTES, readHeader, writeHeader } from './frame-header.js'
import { clusterAad, deriveClusterKey } from './keys.js'
import { NoncePool } from './nonce-pool.js'
import { ConnectionReplayGuard, RecentConnectionIds } from './replay-guard.js'

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

/** Bytes a sealed frame adds to its payload: nonce, authenticated header, tag. */
export const AES_GCM_OVERHEAD_BYTES = NONCE_BYTES + HEADER_BYTES + TAG_BYTES

/**
 * AES-256-GCM frame protection with replay defence: a recorded connection cannot be replayed (its
 * connection id is remembered through the window, and an older recording is stale), and frames
 * within a connection cannot be replayed, dropped or reordered (consecutive sequence numbers).
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
  const key = createSecretKey(deriveClusterKey(secret, clusterName))
  const aad = clusterAad(clusterName)
  const nonces = new NoncePool(NONCE_BYTES)
  const recent = new RecentConnectionIds(maxRecentConnections)

  return {
    encrypts: true,
    outbound(): FrameSealer {
      const connectionId = randomBytes(CONNECTION_ID_BYTES)
      const header = Buffer.allocUnsafe(HEADER_BYTES)
      let seq = 0
      return {
        seal(plaintext) {
          writeHeader(header, connectionId, seq++, clock.now())
          return encryptFrame(key, aad, nonces, [header, plaintext])
        },
      }
    },
    inbound(): FrameOpener {
      const guard = new ConnectionReplayGuard(recent, replayWindowMs)
      // After one failure the connection is untrusted: refuse everything else it sends.
      let failure: Error | undefined
      return {
        open(frame) {
          if (failure) throw failure
          try {
            const plaintext = decryptFrame(key, aad, frame)
            const header = readHeader(plaintext)
            if (!header) throw new DecryptionError('authenticated frame is too short to carry a header')
            guard.check(header, clock.now())
            return plaintext.subarray(HEADER_BYTES)
          } catch (error) {
            failure =
              error instanceof DecryptionError || error instanceof ReplayError
                ? error
                : new DecryptionError('frame could not be opened', { cause: error })
            throw failure
          }
        },
      }
    },
  }
}
