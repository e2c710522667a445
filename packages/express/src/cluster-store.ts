import {
  ClusterStoreCore,
  type ClusterStoreCoreOptions,
  type LoadedSession,
  type RequestSaveState,
  type SessionCluster,
  type StoreCallback,
} from '@session-cluster/core'
import type { Request } from 'express'
import session from 'express-session'

export type ClusterStoreOptions = ClusterStoreCoreOptions
type Data = session.SessionData

/**
 * An express-session `Store` over a SessionCluster: reads are local, every change replicates to the peers,
 * and a save sends only the attributes the request changed (measured against what it loaded). The same store
 * as @session-cluster/fastify's ClusterStore (both forward to core's ClusterStoreCore); this one adds
 * express-session's `Store` base class and ties each loaded session to its request in `createSession`.
 *
 * One store per `session()` middleware: express-session writes `store.generate` onto the instance, so two
 * middlewares sharing one store would generate each other's ids. Methods take an optional callback and
 * return a promise when none is given. The store never emits `disconnect` (it serves from memory).
 *
 * @example
 * app.use(session({ store: new ClusterStore(cluster), secret, name: 'sid' }))
 */
export class ClusterStore extends session.Store {
  /** get() result → the load it came from (createSession then ties it to the request). */
  readonly #loads = new WeakMap<object, LoadedSession>()
  /** Request → what the store knows about its session. */
  readonly #requests = new WeakMap<object, RequestSaveState>()
  readonly #core: ClusterStoreCore<Data>

  /** Starts the cluster if it is not (start is idempotent); operations wait until it is ready. */
  constructor(cluster: SessionCluster, options: ClusterStoreOptions = {}) {
    super()
    this.#core = new ClusterStoreCore<Data>(
      cluster,
      {
        // express-session hands `set`/`touch` its live Session, whose non-enumerable `req` is the request.
        stateOf: (_sid, sess) => {
          const req = (sess as { req?: object }).req
          if (!req) return undefined
          let state = this.#requests.get(req)
          if (!state) this.#requests.set(req, (state = {}))
          return state
        },
        loaded: (sess, loaded) => this.#loads.set(sess, loaded),
      },
      options,
    )
  }

  get cluster(): SessionCluster {
    return this.#core.cluster
  }
  /** Resolves once the cluster is ready (state transfer done); rejects if it could not start. */
  get ready(): Promise<void> {
    return this.#core.ready
  }
  /** Async mode: the version token of the request whose `get` comes next (set by `clusterSession()`). */
  get nextReadToken(): string | undefined {
    return this.#core.nextReadToken
  }
  set nextReadToken(token: string | undefined) {
    this.#core.nextReadToken = token
  }
  /** Stops the cluster if this store owns it (`clusterStore()`); otherwise the cluster is its creator's. Idempotent. */
  close(): Promise<void> {
    return this.#core.close()
  }

  get(sid: string, callback?: StoreCallback<Data | null>): Promise<Data | null> {
    return this.#core.get(sid, callback)
  }
  set(sid: string, sess: Data, callback?: StoreCallback<void>): Promise<void> {
    return this.#core.set(sid, sess, callback)
  }
  destroy(sid: string, callback?: StoreCallback<void>): Promise<void> {
    return this.#core.destroy(sid, callback)
  }
  override touch(sid: string, sess: Data, callback?: StoreCallback<void>): Promise<void> {
    return this.#core.touch(sid, sess, callback)
  }
  override all(callback?: StoreCallback<Record<string, Data>>): Promise<Record<string, Data>> {
    return this.#core.all(callback)
  }
  override length(callback?: StoreCallback<number>): Promise<number> {
    return this.#core.length(callback)
  }
  override clear(callback?: StoreCallback<void>): Promise<void> {
    return this.#core.clear(callback)
  }

  /** Also remembers, per request, the load the session came from, so `set` can send only what changed. */
  override createSession(req: Request, sess: Data): session.Session & Data {
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
}
