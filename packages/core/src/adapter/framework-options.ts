import { InvalidParametersError } from '../errors.js'
import { describeValue, refuseUnknownOptions } from '../option-checks.js'

/**
 * Option rules both adapters apply alike, so an option means the same and fails the same way in Express and
 * in Fastify.
 */

/**
 * Cookie signing secrets: @fastify/session refuses shorter ones, and a cookie secret shorter than a random
 * 256-bit key is the weak point of every session. Express nodes share cookies with Fastify nodes, so both
 * adapters ask for the same.
 */
export const MIN_COOKIE_SECRET_LENGTH = 32

/** A cookie signing secret: a string of at least 32 characters, or a non-empty array of them (rotation). */
export function validateCookieSecret(secret: unknown, prefix: string): void {
  const rule = `a string of at least ${MIN_COOKIE_SECRET_LENGTH} characters, or a non-empty array of them (the first signs, all verify)`
  if (secret === undefined) throw new InvalidParametersError(`${prefix}secret is required: ${rule}`)
  const list = Array.isArray(secret) ? secret : [secret]
  const bad = list.length === 0 ? secret : list.find((s) => typeof s !== 'string' || s.length < MIN_COOKIE_SECRET_LENGTH)
  if (list.length > 0 && bad === undefined) return
  const got = typeof bad === 'string' ? `a string of ${bad.length} characters` : describeValue(bad)
  throw new InvalidParametersError(`${prefix}secret must be ${rule}, got ${got}`)
}

/** Cookie attributes both express-session and @fastify/session (through @fastify/cookie) understand. */
export const COOKIE_OPTION_NAMES: ReadonlySet<string> = new Set([
  'domain',
  'encode',
  'expires',
  'httpOnly',
  'maxAge',
  'partitioned',
  'path',
  'priority',
  'sameSite',
  'secure',
  'signed',
])

/** Cookie options: known attributes only; `maxAge` (the idle limit too) a positive number of milliseconds. */
export function validateCookieOptions(cookie: unknown, prefix: string): void {
  if (typeof cookie !== 'object' || cookie === null || Array.isArray(cookie)) {
    throw new InvalidParametersError(`${prefix}cookie must be an options object, got ${describeValue(cookie)}`)
  }
  refuseUnknownOptions(cookie, COOKIE_OPTION_NAMES, { what: 'cookie option', prefix })
  const { maxAge } = cookie as { maxAge?: unknown }
  if (maxAge !== undefined && maxAge !== null && (typeof maxAge !== 'number' || !(maxAge > 0))) {
    throw new InvalidParametersError(`${prefix}cookie.maxAge must be a positive number of milliseconds, got ${describeValue(maxAge)}`)
  }
}

/** An optional boolean option. */
export function validateBoolean(options: object, key: string, prefix: string): void {
  const value = (options as Record<string, unknown>)[key]
  if (value !== undefined && typeof value !== 'boolean') {
    throw new InvalidParametersError(`${prefix}${key} must be a boolean, got ${describeValue(value)}`)
  }
}
