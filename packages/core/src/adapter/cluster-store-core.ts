import type { LoadedSession, SessionCluster } from '../cluster/session-cluster.js'
import { callbackOrPromise, type StoreCallback } from './callback.js'
import { cookieMaxAgeChanged, cookieMaxInactiveMs, isCookieExpired, toClusterSession, toFrameworkSession } from './session-cookie.js'
import { StoreLifecycle } from './store-lifecycle.js'
import { sameSessionBase } from '../valve/session-id.js'

/**
 * The store both adapters export as `ClusterStore` (express-session's and @fastify/session's), in one place.
 * Fastify's class extends it; Express's forwards to it (it must extend express-session's `Store`). Each adds what
 * its framework needs (`createSession`; @fastify/session's claim and rebinding), so an Express node and a Fastify
 * node store, load, expire and touch sessions the same way.
 */

/** What a store knows about the request a session belongs to: the load to diff against, what it last saved. */
export interface RequestSaveState {
  /** The load the request's session came from; undefined for a session the request created. */
  loaded?: LoadedSession
  /** Whether a save of this request's session succeeded. */
  stored?: boolean
}

/** How one framework's session objects map onto requests. */
export interface FrameworkSessionMapping {
  /**
   * The state of the request `session` (handed to `set`/`touch`) belongs to, created on first use; undefined for
   * a session outside any request (a plain object an application passes by hand).
   */
  stateOf(sid: string, session: object): RequestSaveState | undefined
  /** `get` is returning `session`, built from `loaded`: keep the pair until the framework ties it to a request. */
  loaded(session: object, loaded: LoadedSession): void
}

export interface ClusterStoreCoreOptions {
  /** `close()` stops the cluster: the store owns it (as `clusterStore()` makes it). @default false */
  stopClusterOnClose?: boolean
}

/**
 * Store operations over a SessionCluster, each with an optional callback and a promise (connect-redis >= 8.1 style):
 * reads are local, a save sends only the attributes the request changed (measured against what it loaded), `get`
 * never returns a session past its fixed cookie date or its idle limit, and `touch` records an access unless the
 * cookie's max age changed ("remember me"), which it stores.
 */
export class ClusterStoreCore<S extends object> {
  readonly cluster: SessionCluster
  /**
   * Async mode: the version token of the request whose `get` comes next. Both frameworks call `get` synchronously
   * right after the adapter's hook that sets this, so the two cannot interleave.
   */
  nextReadToken: string | undefined
  readonly #mapping: FrameworkSessionMapping
  readonly #life: StoreLifecycle

  /** Starts the cluster if it is not (start is idempotent); operations wait until it is ready. */
  constructor(cluster: SessionCluster, mapping: FrameworkSessionMapping, options: ClusterStoreCoreOptions = {}) {
    this.cluster = cluster
    this.#mapping = mapping
    this.#life = new StoreLifecycle(cluster, options.stopClusterOnClose ?? false)
  }

  /** Resolves once the cluster is ready (state transfer done); rejects if it could not start. */
  get ready(): Promise<void> {
    return this.#life.ready
  }

  /** Stops the cluster if the store owns it (`clusterStore()`); otherwise the cluster is its creator's. Idempotent. */
  close(): Promise<void> {
    return this.#life.close()
  }

  get(sid: string, callback?: StoreCallback<S | null>): Promise<S | null> {
    const token = this.nextReadToken
    this.nextReadToken = undefined
    return callbackOrPromise(callback, async () => {
      if (this.#life.starting) await this.#life.starting
      const loaded = await this.cluster.load(sid, token === undefined ? undefined : { token })
      const session = loaded && this.#live(loaded)
      if (!session) {
        if (loaded) await this.cluster.destroy(sid)
        return null
      }
      this.#mapping.loaded(session, loaded)
      return session
    })
  }

  set(sid: string, session: S, callback?: StoreCallback<void>): Promise<void> {
    return callbackOrPromise(callback, async () => {
      if (this.#life.starting) await this.#life.starting
      const state = this.#mapping.stateOf(sid, session)
      const loaded = loadedFor(state, sid)
      const { data, maxInactiveMs } = toClusterSession(session, loaded)
      // A second save of the same values in one request (an explicit `save()`, then the framework's own) costs an
      // access: the cluster diffs it against what the first one saved. A failed save is reported and remembers
      // nothing: a later save tries again.
      await this.cluster.save(sid, data, { loaded, maxInactiveMs })
      if (state) state.stored = true
    })
  }

  destroy(sid: string, callback?: StoreCallback<void>): Promise<void> {
    return callbackOrPromise(callback, async () => {
      if (this.#life.starting) await this.#life.starting
      await this.cluster.destroy(sid)
    })
  }

  /**
   * Cheap: records the access locally; access times replicate coalesced, never the payload. A cookie whose max age
   * changed, was set ("remember me") or was removed (a browser-session cookie again) is stored instead, or the next
   * load would rebuild the old cookie. The framework only touches a session it did not see modified.
   */
  touch(sid: string, session: S, callback?: StoreCallback<void>): Promise<void> {
    const loaded = this.#life.starting ? undefined : loadedFor(this.#mapping.stateOf(sid, session), sid)
    if (!loaded) return callbackOrPromise(callback, () => this.#touchOutsideRequest(sid, session))
    if (cookieMaxAgeChanged(session, loaded.data)) return this.set(sid, session, callback)
    let error: unknown
    try {
      this.cluster.touch(sid, { maxInactiveMs: cookieMaxInactiveMs(session, loaded) })
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
  all(callback?: StoreCallback<Record<string, S>>): Promise<Record<string, S>> {
    return callbackOrPromise(callback, async () => {
      if (this.#life.starting) await this.#life.starting
      const out: Record<string, S> = {}
      for (const id of this.cluster.ids()) {
        const loaded = await this.cluster.load(id)
        const session = loaded && this.#live(loaded)
        if (session) out[id] = session
      }
      return out
    })
  }

  length(callback?: StoreCallback<number>): Promise<number> {
    return callbackOrPromise(callback, async () => {
      if (this.#life.starting) await this.#life.starting
      return this.cluster.size
    })
  }

  /** Destroys every session, cluster-wide. */
  clear(callback?: StoreCallback<void>): Promise<void> {
    return callbackOrPromise(callback, async () => {
      if (this.#life.starting) await this.#life.starting
      await this.cluster.clear()
    })
  }

  /** The framework session `get` returns for a load; undefined when its fixed cookie date has passed. */
  #live(loaded: LoadedSession): S | undefined {
    const session = toFrameworkSession(loaded) as S
    return isCookieExpired(session, Date.now()) ? undefined : session
  }

  /**
   * A touch with no load to compare with (outside a request, or before the cluster was ready): like MemoryStore's,
   * it stores the cookie when its max age changed and leaves the attributes as stored; an unknown session stays unknown.
   */
  async #touchOutsideRequest(sid: string, session: S): Promise<void> {
    if (this.#life.starting) await this.#life.starting
    const stored = await this.cluster.load(sid)
    if (!stored) return
    if (!cookieMaxAgeChanged(session, stored.data)) {
      this.cluster.touch(sid, { maxInactiveMs: cookieMaxInactiveMs(session, stored) })
      return
    }
    const { data, maxInactiveMs } = toClusterSession({ ...stored.data, cookie: (session as { cookie?: unknown }).cookie }, stored)
    await this.cluster.save(sid, data, { loaded: stored, maxInactiveMs })
  }
}

/** The state's load when it is of this session (the same random part: a rebinding changes only the route). */
function loadedFor(state: RequestSaveState | undefined, sid: string): LoadedSession | undefined {
  return state?.loaded && sameSessionBase(state.loaded.id, sid) ? state.loaded : undefined
}
