import { scryptSync } from 'node:crypto'
import { InvalidParametersError } from '../errors.js'

/** Bound into the key derivation, so a future wire version can never be confused with this one. */
export const PROTOCOL_LABEL = 'session-cluster/v3'
export const KEY_BYTES = 32

/**
 * The work factor of the cluster key: scrypt with N = 2^15, r = 8 (32 MiB, about 0.1 s once at start-up). A
 * recorded connection gives an attacker known plaintext to test guesses of the secret against; each guess then
 * costs this much instead of one HMAC.
 */
const SCRYPT = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const

/** Derived keys by secret and cluster name: processes that build several nodes (tests) pay the work factor once. */
const derived = new Map<string, Buffer>()
const MAX_CACHED_KEYS = 64

/** scrypt(secret, salt = protocol label + cluster name): one 32-byte key per secret and cluster. */
export function deriveClusterKey(secret: string | Uint8Array, clusterName: string): Buffer {
  if (typeof secret === 'string' ? secret.length === 0 : !(secret instanceof Uint8Array) || secret.length === 0) {
    throw new InvalidParametersError('secret must be a non-empty string or byte array')
  }
  if (typeof clusterName !== 'string' || clusterName.length === 0) {
    throw new InvalidParametersError(`clusterName must be a non-empty string, got ${JSON.stringify(clusterName)}`)
  }
  const secretBytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret)
  const cacheKey = `${clusterName}\u0000${secretBytes.toString('base64')}`
  const known = derived.get(cacheKey)
  if (known) return known
  const key = scryptSync(secretBytes, `${PROTOCOL_LABEL} cluster key\u0000${clusterName}`, KEY_BYTES, SCRYPT)
  if (derived.size >= MAX_CACHED_KEYS) derived.delete(derived.keys().next().value!)
  derived.set(cacheKey, key)
  return key
}

/**
 * Why a secret looks guessable (short, or few distinct characters), or undefined. The work factor slows guessing
 * down; it cannot save a dictionary word.
 */
export function weakSecretReason(secret: string | Uint8Array): string | undefined {
  const text = typeof secret === 'string' ? secret : Buffer.from(secret).toString('latin1')
  if (text.length < 20) return `it has ${text.length} characters (use at least 20, e.g. 32 random bytes in base64)`
  const distinct = new Set(text).size
  if (distinct < 10) return `it uses only ${distinct} distinct characters`
  return undefined
}
