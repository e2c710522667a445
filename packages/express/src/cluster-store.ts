import { type LoadedSession, parseSessionId, type SessionCluster, type SessionData as ClusterData } from '@session-cluster/core'
import type { Request } from 'express'
import session from 'express-session'

type Callback<T> = (err: unknown, value?: T) => void

/** What express-session hands to `set`/`touch`: the live `Session` (its non-enumerable `req` is the request). */
type StoredSession = session.SessionData & { readonly req?: object }

/** What this store remembers about one request: the load to diff against, and what it last saved. */
interface RequestState {
  loaded?: LoadedSession
  /** `id + json` of the last successful save, so express-session's own save after ours is not repeated. */
  saved?: string
  /** A save for this request already failed and was reported: later sets for it are no-ops. */
  failed?: boolean
}

/** Changes of `originalMaxAge` smaller than this are express-session's millisecond drift, not a new max age. */
const MAX_AGE_DRIFT_MS = 1000

/**
 * An express-session `Store` over a SessionCluster: reads are local, every change replicates to the peers,
 * and a save sends only the attributes the request changed (measured against what it loaded).
 *
 * One store per `session()` middleware: express-session writes `store.generate` onto the instance, so two
 * middlewares sharing one store would generate each other's ids. Methods take an optional callback and
 * return a promise when none is given. The store never emits `disconnect` (it serves from memory).
 *
 * @example
 * app.use(session({ store: new ClusterStore(cluster), genid: () => cluster.generateId(), secret, name: 'sid' }))
 */
export class ClusterStore extends session.Store {
  readonly cluster: SessionCluster
  /** get() result → the load it came from (createSession then ties it to the request). */
  readonly #loads = new WeakMap<object, LoadedSession>()
  readonly #requests = new WeakMap<object, RequestState>()

  constructor(cluster: SessionCluster) {
    super()
    this.cluster = cluster
  }

  get(sid: string, callback?: Callback<session.SessionData | null>): Promise<session.SessionData | null> {
    return settle(callback, async () => {
      const loaded = await this.cluster.load(sid)
      if (!loaded) return null
      const sess = toExpress(loaded)
      this.#loads.set(sess, loaded)
      return sess
    })
  }

  set(sid: string, sess: session.SessionData, callback?: Callback<void>): Promise<void> {
    return settle(callback, async () => {
      const state = this.#stateOf(sess as StoredSession)
      if (state?.failed) return
      const loaded = state?.loaded && sameBase(state.loaded.id, sid) ? state.loaded : undefined
      const { data, maxInactiveMs } = toCluster(sess, loaded)
      const fingerprint = state ? fingerprintOf(sid, data) : undefined
      if (fingerprint !== undefined && state?.saved === fingerprint) return
      try {
        await this.cluster.save(sid, data, { loaded, maxInactiveMs })
      } catch (error) {
        if (state) state.failed = true
        throw error
      }
      if (state) state.saved = fingerprint
    })
  }

  destroy(sid: string, callback?: Callback<void>): Promise<void> {
    return settle(callback, () => this.cluster.destroy(sid))
  }

  /** Cheap: records the access locally; access times replicate coalesced, never the payload. */
  override touch(sid: string, sess: session.SessionData, callback?: Callback<void>): Promise<void> {
    return settle(callback, async () => {
      const state = this.#stateOf(sess as StoredSession)
      const loaded = state?.loaded && sameBase(state.loaded.id, sid) ? state.loaded : undefined
      this.cluster.touch(sid, { maxInactiveMs: maxInactiveOf(sess, loaded) })
    })
  }

  /** Every live session this node holds, as an object keyed by session id (like express-session's MemoryStore). */
  override all(callback?: Callback<Record<string, session.SessionData>>): Promise<Record<string, session.SessionData>> {
    return settle(callback, async () => {
      const out: Record<string, session.SessionData> = {}
      for (const id of this.cluster.ids()) {
        const loaded = await this.cluster.load(id)
        if (loaded) out[id] = toExpress(loaded)
      }
      return out
    })
  }

  override length(callback?: Callback<number>): Promise<number> {
    return settle(callback, async () => this.cluster.size)
  }

  /** Destroys every session, cluster-wide. */
  override clear(callback?: Callback<void>): Promise<void> {
    return settle(callback, () => this.cluster.clear())
  }

  /** Also remembers, per request, the load the session came from, so `set` can send only what changed. */
  override createSession(req: Request, sess: session.SessionData): session.Session & session.SessionData {
    const loaded = this.#loads.get(sess)
    if (loaded) {
      this.#loads.delete(sess)
      this.#requests.set(req, { loaded })
    } else if (!this.#requests.has(req)) {
      // A session rebuilt from data (route rebinding) keeps the load already recorded for this request.
      this.#requests.set(req, {})
    }
    return super.createSession(req, sess)
  }

  /** The load this request's session came from; undefined for a session created by the request. */
  loadedSession(req: object): LoadedSession | undefined {
    return this.#requests.get(req)?.loaded
  }

  #stateOf(sess: StoredSession): RequestState | undefined {
    const req = sess.req
    if (!req) return undefined
    let state = this.#requests.get(req)
    if (!state) this.#requests.set(req, (state = {}))
    return state
  }
}

/** What a save wrote, to skip an identical save of the same request; undefined when it cannot be encoded. */
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

/** Cluster attributes → what express-session expects from `get`, with `cookie.expires` rebuilt. */
function toExpress(loaded: LoadedSession): session.SessionData {
  const { cookie, ...rest } = loaded.data
  const stored = (cookie && typeof cookie === 'object' ? cookie : {}) as Record<string, unknown>
  const originalMaxAge = typeof stored.originalMaxAge === 'number' ? stored.originalMaxAge : null
  const expires = originalMaxAge === null ? null : new Date(loaded.meta.lastAccessedAt + originalMaxAge).toISOString()
  return { ...rest, cookie: { ...stored, originalMaxAge, expires } } as unknown as session.SessionData
}

/** express-session's session → cluster attributes: `cookie` without `expires` (it moves on every request). */
function toCluster(sess: session.SessionData, loaded: LoadedSession | undefined): { data: ClusterData; maxInactiveMs?: number } {
  const data: ClusterData = {}
  for (const key of Object.keys(sess)) {
    if (key !== 'cookie') data[key] = (sess as unknown as Record<string, unknown>)[key]
  }
  const cookie = sess.cookie ? (JSON.parse(JSON.stringify(sess.cookie)) as Record<string, unknown>) : {}
  delete cookie.expires
  const maxInactiveMs = maxInactiveOf(sess, loaded)
  cookie.originalMaxAge = maxInactiveMs ?? null
  data.cookie = cookie
  return { data, maxInactiveMs }
}

/** `cookie.originalMaxAge` as the session's idle limit (null: the cluster default), without ms drift. */
function maxInactiveOf(sess: session.SessionData, loaded: LoadedSession | undefined): number | undefined {
  const value = (sess.cookie as { originalMaxAge?: unknown } | undefined)?.originalMaxAge
  if (typeof value !== 'number' || !Number.isFinite(value)) return undefined
  // Cookie.resetMaxAge reads maxAge back from `expires - Date.now()`, so it loses a millisecond now and then.
  const before = (loaded?.data.cookie as { originalMaxAge?: unknown } | undefined)?.originalMaxAge
  if (typeof before === 'number' && Math.abs(before - value) < MAX_AGE_DRIFT_MS) return before
  return Math.max(1, Math.round(value))
}

/** Run `fn`; report to `callback` when given, and return the promise either way (handled when a callback exists). */
function settle<T>(callback: Callback<T> | undefined, fn: () => Promise<T>): Promise<T> {
  let promise: Promise<T>
  try {
    promise = fn()
  } catch (error) {
    promise = Promise.reject(error)
  }
  if (!callback) return promise
  // Called on a fresh tick: an exception thrown by the callback surfaces as it would from any callback API.
  promise.then(
    (value) => process.nextTick(callback, null, value),
    (error) => process.nextTick(callback, error),
  )
  // The caller chose the callback: do not let the returned promise become an unhandled rejection.
  return promise.catch(() => undefined as T)
}
