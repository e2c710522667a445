import {
  callbackOrPromise,
  cookieMaxInactiveMs,
  isCookieExpired,
  type LoadedSession,
  type SessionCluster,
  type StoreCallback,
  StoreLifecycle,
  saveFingerprint,
  sameSessionBase,
  toClusterSession,
  toFrameworkSession,
} from '@session-cluster/core'
import type { Request } from 'express'
import session from 'express-session'

/** What express-session hands to `set`/`touch`: the live `Session` (its non-enumerable `req` is the request). */
type StoredSession = session.SessionData & { readonly req?: object }

/** What this store remembers about one request: the load to diff against, and what it last saved. */
interface RequestState {
  loaded?: LoadedSession
  /** `id + json` of the last successful save, so express-session's own save after ours is not repeated. */
  saved?: string
}

export interface ClusterStoreOptions {
  /** `close()` stops the cluster: the store owns it (as `clusterStore()` makes it). @default false */
  stopClusterOnClose?: boolean
}

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
  readonly #life: StoreLifecycle
  /** The cluster's start while it runs (operations wait for it); undefined once it has succeeded. */

  /** Starts the cluster if it is not (start is idempotent); operations wait until it is ready. */
  constructor(cluster: SessionCluster, options: ClusterStoreOptions = {}) {
    super()
    this.cluster = cluster
    this.#life = new StoreLifecycle(cluster, options.stopClusterOnClose ?? false)
  }

  /** Resolves once the cluster is ready (state transfer done); rejects if it could not start. */
  get ready(): Promise<void> {
    return this.#life.ready
  }

  /** Stops the cluster if this store owns it (`clusterStore()`); otherwise the cluster is its creator's. Idempotent. */
  close(): Promise<void> {
    return this.#life.close()
  }

  /**
   * Async mode: the version token of the request whose `get` comes next. express-session calls `get` synchronously
   * from its middleware, which `clusterSession()` calls right after setting this, so the two cannot interleave.
   */
  nextReadToken: string | undefined

  get(sid: string, callback?: StoreCallback<session.SessionData | null>): Promise<session.SessionData | null> {
    const token = this.nextReadToken
    this.nextReadToken = undefined
    return callbackOrPromise(callback, async () => {
      if (this.#life.starting) await this.#life.starting
      const loaded = await this.cluster.load(sid, token === undefined ? undefined : { token })
      if (!loaded) return null
      const sess = toExpress(loaded)
      if (isCookieExpired(sess, Date.now())) {
        await this.cluster.destroy(sid)
        return null
      }
      this.#loads.set(sess, loaded)
      return sess
    })
  }

  set(sid: string, sess: session.SessionData, callback?: StoreCallback<void>): Promise<void> {
    return callbackOrPromise(callback, async () => {
      if (this.#life.starting) await this.#life.starting
      const state = this.#stateOf(sess as StoredSession)
      const loaded = state?.loaded && sameSessionBase(state.loaded.id, sid) ? state.loaded : undefined
      const { data, maxInactiveMs } = toClusterSession(sess, loaded)
      const fingerprint = state ? saveFingerprint(sid, data) : undefined
      if (fingerprint !== undefined && state?.saved === fingerprint) return
      // A failed save is reported and remembers nothing: a later save in the same request tries again.
      await this.cluster.save(sid, data, { loaded, maxInactiveMs })
      if (state) state.saved = fingerprint
    })
  }

  destroy(sid: string, callback?: StoreCallback<void>): Promise<void> {
    return callbackOrPromise(callback, async () => {
      if (this.#life.starting) await this.#life.starting
      await this.cluster.destroy(sid)
    })
  }

  /**
   * Cheap: records the access locally; access times replicate coalesced, never the payload. A cookie whose
   * max age changed ("remember me": express-session sees no change and only touches) is saved instead, or
   * the next load would rebuild the cookie with the old max age.
   */
  override touch(sid: string, sess: session.SessionData, callback?: StoreCallback<void>): Promise<void> {
    if (this.#life.starting || this.#maxAgeChanged(sid, sess)) return this.set(sid, sess, callback)
    let error: unknown
    try {
      const state = this.#stateOf(sess as StoredSession)
      const loaded = state?.loaded && sameSessionBase(state.loaded.id, sid) ? state.loaded : undefined
      this.cluster.touch(sid, { maxInactiveMs: cookieMaxInactiveMs(sess, loaded) })
    } catch (caught) {
      error = caught
    }
    // Called back synchronously, on purpose: express-session then ends the response in one write. With an
    // asynchronous touch it writes all but the last byte first and the rest a tick later, and a node killed in
    // between leaves nginx a half response it can no longer retry elsewhere.
    if (callback) {
      callback(error ?? null)
      return Promise.resolve()
    }
    return error === undefined ? Promise.resolve() : Promise.reject(error)
  }

  /** Every live session this node holds, as an object keyed by session id (like express-session's MemoryStore). */
  override all(callback?: StoreCallback<Record<string, session.SessionData>>): Promise<Record<string, session.SessionData>> {
    return callbackOrPromise(callback, async () => {
      if (this.#life.starting) await this.#life.starting
      const out: Record<string, session.SessionData> = {}
      for (const id of this.cluster.ids()) {
        const loaded = await this.cluster.load(id)
        const sess = loaded && toExpress(loaded)
        if (sess && !isCookieExpired(sess, Date.now())) out[id] = sess
      }
      return out
    })
  }

  override length(callback?: StoreCallback<number>): Promise<number> {
    return callbackOrPromise(callback, async () => {
      if (this.#life.starting) await this.#life.starting
      return this.cluster.size
    })
  }

  /** Destroys every session, cluster-wide. */
  override clear(callback?: StoreCallback<void>): Promise<void> {
    return callbackOrPromise(callback, async () => {
      if (this.#life.starting) await this.#life.starting
      await this.cluster.clear()
    })
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

  /** Whether the cookie's max age differs from the stored session's idle limit (beyond express-session's drift). */
  #maxAgeChanged(sid: string, sess: session.SessionData): boolean {
    const maxInactiveMs = cookieMaxInactiveMs(sess)
    if (maxInactiveMs === undefined) return false
    const stored = this.cluster.meta(sid)?.maxInactiveMs
    return stored !== undefined && Math.abs(stored - maxInactiveMs) >= MAX_AGE_DRIFT_MS
  }

  #stateOf(sess: StoredSession): RequestState | undefined {
    const req = sess.req
    if (!req) return undefined
    let state = this.#requests.get(req)
    if (!state) this.#requests.set(req, (state = {}))
    return state
  }
}

/** express-session recomputes `originalMaxAge` from a date: below this it drifted, it did not change. */
const MAX_AGE_DRIFT_MS = 1_000

/** Cluster attributes → what express-session expects from `get` (the cookie mapping is shared with Fastify). */
function toExpress(loaded: LoadedSession): session.SessionData {
  return toFrameworkSession(loaded) as unknown as session.SessionData
}
