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
  const { data } = loaded
  const cookie = data.cookie
  if (cookie === undefined || cookie === null || typeof cookie !== 'object') return data
  const stored = cookie as Attributes
  const originalMaxAge = typeof stored.originalMaxAge === 'number' ? stored.originalMaxAge : null
  const expires = originalMaxAge !== null ? new Date(loaded.meta.lastAccessedAt + originalMaxAge).toISOString() : (stored.expires ?? null)
  // A spread with the cookie overwritten, not `{ cookie, ...rest }`: V8 copies the former far faster.
  return { ...data, cookie: { ...stored, originalMaxAge, expires } }
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
  const cookie = plainCookie(raw)
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

/**
 * What `JSON.parse(JSON.stringify(cookie))` gives for a framework's cookie (its `toJSON()`, a flat object of
 * options and an `expires` Date), without a round trip through a string for the primitives: this runs on every
 * save, rolling ones included.
 */
function plainCookie(raw: unknown): Attributes {
  const source = typeof (raw as { toJSON?: unknown }).toJSON === 'function' ? (raw as { toJSON(): unknown }).toJSON() : raw
  if (source === null || typeof source !== 'object' || Array.isArray(source)) return JSON.parse(JSON.stringify(raw)) as Attributes
  const out: Attributes = {}
  for (const key of Object.keys(source)) {
    const value = (source as Attributes)[key]
    if (typeof value === 'string' || typeof value === 'boolean' || value === null) out[key] = value
    else if (typeof value === 'number') out[key] = Number.isFinite(value) ? value : null
    else if (typeof value === 'object' || typeof value === 'bigint') {
      // Dates and anything nested: as JSON would write them (a bigint throws, as it does there).
      const json = JSON.stringify(value)
      if (json !== undefined) out[key] = JSON.parse(json)
    }
    // undefined, functions and symbols: left out, as JSON leaves them out.
  }
  return out
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
    const now = current[key]
    if (value === now) continue
    // Objects (none in the cookie options both frameworks have today) compare by their JSON.
    if (typeof value !== 'object' || JSON.stringify(value) !== JSON.stringify(now)) return false
  }
  return true
}
