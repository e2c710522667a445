import { hkdfSync } from 'node:crypto'
import { InvalidParametersError } from '../errors.js'

/** Bound into the key derivation, so a future wire version can never be confused with this one. */
export const PROTOCOL_LABEL = 'session-cluster/v1'
export const KEY_BYTES = 32

/** HKDF-SHA256(secret, salt = protocol label, info = cluster name): one 32-byte AES key per cluster. */
export function deriveClusterKey(secret: string | Uint8Array, clusterName: string): Buffer {
  if (typeof secret === 'string' ? secret.length === 0 : !(secret instanceof Uint8Array) || secret.length === 0) {
    throw new InvalidParametersError('secret must be a non-empty string or byte array')
  }
  if (typeof clusterName !== 'string' || clusterName.length === 0) {
    throw new InvalidParametersError(`clusterName must be a non-empty string, got ${JSON.stringify(clusterName)}`)
  }
  return Buffer.from(hkdfSync('sha256', secret, PROTOCOL_LABEL, clusterName, KEY_BYTES))
}
