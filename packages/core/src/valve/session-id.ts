import { randomBytes } from 'node:crypto'
import { ROUTE_PATTERN } from '../member.js'

/**
 * Session ids are `<random>.<route>` (Tomcat's jvmRoute convention): 24 random bytes in base64url
 * (192 bits, 32 characters) and the route of the node that owns the session, so a balancer can route on
 * the suffix. Stored sessions are keyed by the random part alone: a change of route is not a change of key.
 */
export const SESSION_ID_RANDOM_BYTES = 24

const BASE = /^[A-Za-z0-9_-]{22,64}$/

export interface ParsedSessionId {
  /** The random part: the key sessions are stored under. */
  readonly base: string
  readonly route: string
}

export function generateSessionId(route: string): string {
  return `${randomBytes(SESSION_ID_RANDOM_BYTES).toString('base64url')}.${route}`
}

/** Split and validate an id; undefined for anything malformed (such an id is never adopted). */
export function parseSessionId(id: unknown): ParsedSessionId | undefined {
  if (typeof id !== 'string' || id.length > 128) return undefined
  const dot = id.lastIndexOf('.')
  if (dot <= 0) return undefined
  const base = id.slice(0, dot)
  const route = id.slice(dot + 1)
  if (!BASE.test(base) || !ROUTE_PATTERN.test(route)) return undefined
  return { base, route }
}

export function formatSessionId(base: string, route: string): string {
  return `${base}.${route}`
}

/** Whether two ids name the same stored session (same random part, whatever their routes). */
export function sameSessionBase(a: string, b: string): boolean {
  const pa = parseSessionId(a)
  const pb = parseSessionId(b)
  return pa !== undefined && pb !== undefined && pa.base === pb.base
}
