import type { LoadedSession, SessionData } from '../cluster/session-cluster.js'

/**
 * express-session and @fastify/session both keep a `cookie` object in the session. Both adapters store it
 * the same way, so an Express node and a Fastify node share sessions: the cookie without `expires` (it moves
 * on every request and must not replicate each time), its `originalMaxAge` being the session's idle limit,
 * and `expires` rebuilt from the last access when a session is loaded. A cookie without a max age keeps its
 * `expires` as given: null for a browser-session cookie, or a fixed date (@fastify/session's `cookie.expires`
 * option) that does not move, and the session ends there.
 */

/** Below this, a change of `originalMaxAge` is express-session's millisecond drift (resetMaxAge), not a new max age. */
const MAX_AGE_DRIFT_MS = 1_000

type Attributes = Record<string, unknown>

/**
 * Cluster attributes → what a framework session store returns from `get`, with `cookie.expires` rebuilt.
 * A session stored without a cookie is returned without one, as a store that keeps what it was given would
 * (express-session then reports it cannot inflate the session, rather than serving it with a made-up cookie).
 */
export function toFrameworkSession(loaded: LoadedSession): Attributes {
  const { cookie, ...rest } = loaded.data
  if (cookie === undefined || cookie === null || typeof cookie !== 'object') return loaded.data
  const stored = cookie as Attributes
  const originalMaxAge = typeof stored.originalMaxAge === 'number' ? stored.originalMaxAge : null
  const expires = originalMaxAge !== null ? new Date(loaded.meta.lastAccessedAt + originalMaxAge).toISOString() : (stored.expires ?? null)
  return { ...rest, cookie: { ...stored, originalMaxAge, expires } }
}

/**
 * Whether a framework session (as `toFrameworkSession` built it) is past a fixed cookie expiry date at `now`:
 * a store's `get` never returns it. A cookie with a max age expires with the session's idle limit, which the
 * cluster checks on every read.
 */
export function isCookieExpired(session: object, now: number): boolean {
  const cookie = (session as Attributes).cookie as { expires?: unknown; originalMaxAge?: unknown } | undefined
  const expires = cookie?.expires
  if (typeof expires !== 'string' || typeof cookie?.originalMaxAge === 'number') return false
  const at = Date.parse(expires)
  return Number.isFinite(at) && at <= now
}

/**
 * A framework session → cluster attributes and idle limit. When the cookie agrees with the loaded one, the
 * loaded one is kept: a framework fills in cookie fields the stored cookie lacks from its own options, so a
 * session written by the other framework (or another configuration) is not rewritten by a request that
 * merely reads it.
 */
export function toClusterSession(session: object, loaded?: LoadedSession): { data: SessionData; maxInactiveMs?: number } {
  const data: SessionData = {}
  for (const key of Object.keys(session)) if (key !== 'cookie') data[key] = (session as Attributes)[key]
  const maxInactiveMs = cookieMaxInactiveMs(session, loaded)
  const raw = (session as Attributes).cookie
  // Stored without a cookie when given none: `get` returns it the same way.
  if (raw === undefined || raw === null) return { data, maxInactiveMs }
  const cookie = JSON.parse(JSON.stringify(raw)) as Attributes
  if (maxInactiveMs !== undefined) {
    // Rebuilt from the last access on load: storing it would replicate a new value on every request.
    delete cookie.expires
    delete cookie.originalExpires
  }
  cookie.originalMaxAge = maxInactiveMs ?? null
  const before = loaded?.data.cookie
  data.cookie = before && typeof before === 'object' && cookieAgrees(before as Attributes, cookie) ? before : cookie
  return { data, maxInactiveMs }
}

/** `cookie.originalMaxAge` as the idle limit; undefined (the cluster default) for a browser-session cookie. */
export function cookieMaxInactiveMs(session: object, loaded?: LoadedSession): number | undefined {
  const value = ((session as Attributes).cookie as { originalMaxAge?: unknown } | undefined)?.originalMaxAge
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) return undefined
  const before = (loaded?.data.cookie as { originalMaxAge?: unknown } | undefined)?.originalMaxAge
  if (typeof before === 'number' && Math.abs(before - value) < MAX_AGE_DRIFT_MS) return before
  return Math.max(1, Math.round(value))
}

/**
 * Whether `session`'s cookie has another max age than the stored cookie in `stored`: changed, set ("remember me"),
 * or removed (a browser-session cookie again). A touch must then store the cookie, or the next load rebuilds the
 * old one. Differences below express-session's drift are not changes.
 */
export function cookieMaxAgeChanged(session: object, stored: SessionData): boolean {
  const now = cookieMaxInactiveMs(session)
  const cookie = stored.cookie
  const before = cookie !== null && typeof cookie === 'object' ? (cookie as Attributes).originalMaxAge : undefined
  if (typeof before !== 'number') return now !== undefined
  return now === undefined || Math.abs(before - now) >= MAX_AGE_DRIFT_MS
}

/** Same max age, and the same value for every field the stored cookie sets. */
function cookieAgrees(stored: Attributes, current: Attributes): boolean {
  if ((stored.originalMaxAge ?? null) !== current.originalMaxAge) return false
  for (const [key, value] of Object.entries(stored)) {
    if (key === 'originalMaxAge' || value === null || value === undefined) continue
    if ((key === 'expires' || key === 'originalExpires') && current.originalMaxAge !== null) continue
    if (JSON.stringify(value) !== JSON.stringify(current[key])) return false
  }
  return true
}
