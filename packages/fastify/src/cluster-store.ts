import type { Session } from 'fastify'
import { type LoadedSession, parseSessionId, type SessionCluster, type SessionData as ClusterData } from '@session-cluster/core'
import './types.js'

type Callback<T> = (err: unknown, value?: T) => void

/** What @fastify/session hands to `set`: its `Session` (own enumerable keys: `cookie` and the user's attributes). */
export type StoredSession = object
type Attributes = Record<string, unknown>

/** What this store knows about one request's session: the load to diff against and what it last saved. */
interface RequestState {
  loaded: LoadedSession
  /** `id + json` of the last successful save, so a repeated identical save (regenerate, save(), onSend) is free. */
  saved?: string
}

/** A route rebinding in flight: the next `destroy(from)` is part of it, and `set(to)` continues this state. */
interface Rebind {
  from: string
  to: string
  state: RequestState
  destroyed: boolean
}

/**
 * A @fastify/session store over a SessionCluster: reads are local, every change replicates to the peers, and
 * a save sends only the attributes the request changed, measured against what it loaded (so `set` on every
 * request, as `rolling` does, replicates nothing when nothing changed, and concurrent requests on different
 * nodes that change different attributes both survive).
 *
 * Callback API as @fastify/session calls it (`get`/`set`/`destroy`); methods also return a promise when no
 * callback is given, and `touch`/`all`/`length`/`clear` are there for express-session-style callers.
 * Data is copied both ways: a session handed to `set` is serialised, one returned by `get` is a fresh copy.
 *
 * @example
 * await fastify.register(fastifySession, { secret, store: new ClusterStore(cluster), idGenerator: () => cluster.generateId() })
 */
export class ClusterStore {
  readonly cluster: SessionCluster
  /** Loads waiting to be tied to the Session built from them (see `claim`); dropped on the next turn of the loop. */
  readonly #pending = new Map<string, LoadedSession[]>()
  /** Session object → the state of the request it belongs to. */
  readonly #states = new WeakMap<object, RequestState>()
  readonly #rebinds: Rebind[] = []
  /** Sessions this store saved (for `wasStored`), and sessions whose save failed (already reported). */
  readonly #stored = new WeakSet<object>()
  readonly #failed = new WeakSet<object>()

  constructor(cluster: SessionCluster) {
    this.cluster = cluster
  }

  get(sid: string, callback?: Callback<Session | null>): Promise<Session | null> {
    return settle(callback, async () => {
      const loaded = await this.cluster.load(sid)
      if (!loaded) return null
      this.#remember(loaded)
      return toFastify(loaded)
    })
  }

  set(sid: string, sess: StoredSession, callback?: Callback<void>): Promise<void> {
    return settle(callback, async () => {
      // A failed save was reported (an error response); the error response's own save must not fail again.
      if (this.#failed.has(sess)) return
      const state = this.#states.get(sess) ?? this.#continueRebind(sid, sess)
      const loaded = state && sameBase(state.loaded.id, sid) ? state.loaded : undefined
      const { data, maxInactiveMs } = toCluster(sess, loaded)
      const fingerprint = state ? fingerprintOf(sid, data) : undefined
      if (fingerprint !== undefined && state?.saved === fingerprint) return
      try {
        await this.cluster.save(sid, data, { loaded, maxInactiveMs })
      } catch (error) {
        this.#failed.add(sess)
        throw error
      }
      this.#stored.add(sess)
      if (state) state.saved = fingerprint
    })
  }

  destroy(sid: string, callback?: Callback<void>): Promise<void> {
    return settle(callback, async () => {
      // `regenerate` destroys the old id before saving the new one; a rebinding keeps the session (stored by
      // its random part, which does not change), so that destroy must not happen.
      const rebind = this.#rebinds.find((r) => r.from === sid && !r.destroyed)
      if (rebind) {
        rebind.destroyed = true
        return
      }
      await this.cluster.destroy(sid)
    })
  }

  /** Cheap: records the access locally; access times replicate coalesced, never the payload. */
  touch(sid: string, sess: StoredSession, callback?: Callback<void>): Promise<void> {
    return settle(callback, async () => {
      this.cluster.touch(sid, { maxInactiveMs: maxInactiveOf(sess) })
    })
  }

  /** Every live session this node holds, keyed by session id. */
  all(callback?: Callback<Record<string, Session>>): Promise<Record<string, Session>> {
    return settle(callback, async () => {
      const out: Record<string, Session> = {}
      for (const id of this.cluster.ids()) {
        const loaded = await this.cluster.load(id)
        if (loaded) out[id] = toFastify(loaded)
      }
      return out
    })
  }

  length(callback?: Callback<number>): Promise<number> {
    return settle(callback, async () => this.cluster.size)
  }

  /** Destroys every session, cluster-wide. */
  clear(callback?: Callback<void>): Promise<void> {
    return settle(callback, () => this.cluster.clear())
  }

  /**
   * Tie a Session that @fastify/session just built from `get` to the load it came from, so its saves send
   * only what the request changed. Called before the handler runs, when the Session still holds exactly the
   * values `get` returned (objects by reference): the load whose data it holds is the one (two loads with
   * equal primitive data are interchangeable). Returns that load, or undefined for a session not loaded here.
   */
  claim(session: StoredSession): LoadedSession | undefined {
    const sid = (session as { sessionId?: unknown }).sessionId
    if (typeof sid !== 'string') return undefined
    const list = this.#pending.get(sid)
    const index = list ? list.findIndex((l) => holds(session, l.data)) : -1
    if (!list || index === -1) return undefined
    const [loaded] = list.splice(index, 1)
    if (list.length === 0) this.#pending.delete(sid)
    this.#states.set(session, { loaded: loaded! })
    return loaded
  }

  /** Whether this Session object was saved by this store (by `regenerate`, say, rather than by `save()`). */
  wasStored(session: StoredSession): boolean {
    return this.#stored.has(session)
  }

  /**
   * Run `regenerate` (which destroys `from`, then saves under a new id) as a change of route from `from` to
   * `to` for the session that `session` was claimed as: the destroy is skipped and the save diffs against the
   * original load.
   */
  async rebind(session: StoredSession, from: string, to: string, regenerate: () => Promise<void>): Promise<void> {
    const state = this.#states.get(session)
    if (!state) return regenerate()
    const entry: Rebind = { from, to, state, destroyed: false }
    this.#rebinds.push(entry)
    try {
      await regenerate()
    } finally {
      const i = this.#rebinds.indexOf(entry)
      if (i !== -1) this.#rebinds.splice(i, 1)
    }
  }

  #remember(loaded: LoadedSession): void {
    let list = this.#pending.get(loaded.id)
    if (!list) this.#pending.set(loaded.id, (list = []))
    list.push(loaded)
    // @fastify/session builds the Session and the plugin claims it in the same chain of callbacks and
    // microtasks that delivers this result, so a load still here on the next turn of the loop was never
    // claimed (reload, an expired session, another caller): forget it.
    setImmediate(() => {
      const current = this.#pending.get(loaded.id)
      const i = current ? current.indexOf(loaded) : -1
      if (i === -1) return
      current!.splice(i, 1)
      if (current!.length === 0) this.#pending.delete(loaded.id)
    })
  }

  /** `set` of the new Session that a rebinding `regenerate` built (it copied the old one's values). */
  #continueRebind(sid: string, sess: StoredSession): RequestState | undefined {
    const i = this.#rebinds.findIndex((r) => r.to === sid && holds(sess, r.state.loaded.data))
    if (i === -1) return undefined
    const [entry] = this.#rebinds.splice(i, 1)
    this.#states.set(sess, entry!.state)
    return entry!.state
  }
}

/** True when `session` has exactly the attributes of `data` (cookie aside), each the same value or object. */
function holds(sess: StoredSession, data: ClusterData): boolean {
  const session = sess as Attributes
  let count = 0
  for (const key of Object.keys(data)) {
    if (key === 'cookie') continue
    if (!Object.hasOwn(session, key) || session[key] !== data[key]) return false
    count++
  }
  for (const key of Object.keys(session)) if (key !== 'cookie') count--
  return count === 0
}

function fingerprintOf(sid: string, data: ClusterData): string | undefined {
  try {
    return sid + JSON.stringify(data)
  } catch {
    return undefined
  }
}

function sameBase(a: string, b: string): boolean {
  const pa = parseSessionId(a)
  const pb = parseSessionId(b)
  return pa !== undefined && pb !== undefined && pa.base === pb.base
}

/** Cluster attributes → what @fastify/session restores a Session from, with `cookie.expires` rebuilt. */
function toFastify(loaded: LoadedSession): Session {
  const { cookie, ...rest } = loaded.data
  const stored = (cookie && typeof cookie === 'object' ? cookie : {}) as Record<string, unknown>
  const originalMaxAge = typeof stored.originalMaxAge === 'number' ? stored.originalMaxAge : null
  const expires = originalMaxAge === null ? null : new Date(loaded.meta.lastAccessedAt + originalMaxAge).toISOString()
  return { ...rest, cookie: { ...stored, originalMaxAge, expires } } as unknown as Session
}

/**
 * A session → cluster attributes. `cookie` is stored without `expires`/`originalExpires` (they move on every
 * request; `get` rebuilds them from the last access), in the shape the Express adapter stores too. When it
 * agrees with the loaded cookie, the loaded one is kept: @fastify/session fills attributes the stored cookie
 * lacks from the plugin's cookie options on every load, so a session written by Express (or by another
 * configuration) is not rewritten by every Fastify request that merely reads it.
 */
function toCluster(sess: StoredSession, loaded: LoadedSession | undefined): { data: ClusterData; maxInactiveMs?: number } {
  const data: ClusterData = {}
  for (const key of Object.keys(sess)) if (key !== 'cookie') data[key] = (sess as Attributes)[key]
  const maxInactiveMs = maxInactiveOf(sess)
  const raw = (sess as Attributes).cookie as { toJSON?: () => unknown } | undefined
  const cookie = raw ? (JSON.parse(JSON.stringify(raw)) as Record<string, unknown>) : {}
  delete cookie.expires
  delete cookie.originalExpires
  cookie.originalMaxAge = maxInactiveMs ?? null
  const before = loaded?.data.cookie
  data.cookie = before && typeof before === 'object' && agrees(before as Record<string, unknown>, cookie) ? before : cookie
  return { data, maxInactiveMs }
}

/** Same max age, and the same value for every attribute the stored cookie sets. */
function agrees(stored: Record<string, unknown>, current: Record<string, unknown>): boolean {
  if ((stored.originalMaxAge ?? null) !== current.originalMaxAge) return false
  for (const [key, value] of Object.entries(stored)) {
    if (key === 'expires' || key === 'originalExpires' || key === 'originalMaxAge' || value === null || value === undefined) continue
    if (JSON.stringify(value) !== JSON.stringify(current[key])) return false
  }
  return true
}

/** `cookie.originalMaxAge` as the session's idle limit; undefined (the cluster default) for a browser-session cookie. */
function maxInactiveOf(sess: StoredSession): number | undefined {
  const value = ((sess as Attributes).cookie as { originalMaxAge?: unknown } | undefined)?.originalMaxAge
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) return undefined
  return Math.max(1, Math.round(value))
}

/** Run `fn`; report to `callback` when given (on a fresh tick), and return the promise either way. */
function settle<T>(callback: Callback<T> | undefined, fn: () => Promise<T>): Promise<T> {
  let promise: Promise<T>
  try {
    promise = fn()
  } catch (error) {
    promise = Promise.reject(error)
  }
  if (!callback) return promise
  promise.then(
    (value) => process.nextTick(callback, null, value),
    (error) => process.nextTick(callback, error),
  )
  // The caller chose the callback: the returned promise must not become an unhandled rejection.
  return promise.catch(() => undefined as T)
}
