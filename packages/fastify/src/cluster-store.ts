import type { Session } from 'fastify'
import {
  callbackOrPromise,
  cookieMaxInactiveMs,
  isCookieExpired,
  type LoadedSession,
  type SessionCluster,
  type SessionData as ClusterData,
  type StoreCallback,
  StoreLifecycle,
  saveFingerprint,
  sameSessionBase,
  toClusterSession,
  toFrameworkSession,
} from '@session-cluster/core'
import './types.js'

/** What @fastify/session hands to `set`: its `Session` (own enumerable keys: `cookie` and the user's attributes). */
export type StoredSession = object
type Attributes = Record<string, unknown>

/** What this store knows about one request's session: the load to diff against and what it last saved. */
interface RequestState {
  loaded: LoadedSession
  /** `id + json` of the last successful save, so a repeated identical save (regenerate, save(), onSend) is free. */
  saved?: string
}

export interface ClusterStoreOptions {
  /** `close()` stops the cluster: the store owns it (as `clusterStore()` makes it). @default false */
  stopClusterOnClose?: boolean
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
  readonly #life: StoreLifecycle
  /** The cluster's start while it runs (operations wait for it); undefined once it has succeeded. */

  /** Starts the cluster if it is not (start is idempotent); operations wait until it is ready. */
  constructor(cluster: SessionCluster, options: ClusterStoreOptions = {}) {
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
   * Async mode: the version token of the request whose `get` comes next. @fastify/session calls `get` synchronously
   * from its onRequest hook, which runs right after the plugin's hook that sets this, so the two cannot interleave.
   */
  nextReadToken: string | undefined

  get(sid: string, callback?: StoreCallback<Session | null>): Promise<Session | null> {
    const token = this.nextReadToken
    this.nextReadToken = undefined
    return callbackOrPromise(callback, async () => {
      if (this.#life.starting) await this.#life.starting
      const loaded = await this.cluster.load(sid, token === undefined ? undefined : { token })
      if (!loaded) return null
      const sess = toFastify(loaded)
      if (isCookieExpired(sess, Date.now())) {
        await this.cluster.destroy(sid)
        return null
      }
      this.#remember(loaded)
      return sess
    })
  }

  set(sid: string, sess: StoredSession, callback?: StoreCallback<void>): Promise<void> {
    return callbackOrPromise(callback, async () => {
      if (this.#life.starting) await this.#life.starting
      // A failed save was reported (an error response); the error response's own save must not fail again.
      if (this.#failed.has(sess)) return
      const state = this.#states.get(sess) ?? this.#continueRebind(sid, sess)
      const loaded = state && sameSessionBase(state.loaded.id, sid) ? state.loaded : undefined
      const { data, maxInactiveMs } = toClusterSession(sess, loaded)
      const fingerprint = state ? saveFingerprint(sid, data) : undefined
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

  destroy(sid: string, callback?: StoreCallback<void>): Promise<void> {
    return callbackOrPromise(callback, async () => {
      // `regenerate` destroys the old id before saving the new one; a rebinding keeps the session (stored by
      // its random part, which does not change), so that destroy must not happen.
      const rebind = this.#rebinds.find((r) => r.from === sid && !r.destroyed)
      if (rebind) {
        rebind.destroyed = true
        return
      }
      if (this.#life.starting) await this.#life.starting
      await this.cluster.destroy(sid)
    })
  }

  /**
   * Cheap: records the access locally; access times replicate coalesced, never the payload. A cookie whose
   * max age changed ("remember me") is saved instead, or the next load would rebuild the old max age.
   */
  touch(sid: string, sess: StoredSession, callback?: StoreCallback<void>): Promise<void> {
    if (this.#maxAgeChanged(sid, sess)) return this.set(sid, sess, callback)
    return callbackOrPromise(callback, async () => {
      if (this.#life.starting) await this.#life.starting
      this.cluster.touch(sid, { maxInactiveMs: cookieMaxInactiveMs(sess) })
    })
  }

  /** Every live session this node holds, keyed by session id. */
  all(callback?: StoreCallback<Record<string, Session>>): Promise<Record<string, Session>> {
    return callbackOrPromise(callback, async () => {
      if (this.#life.starting) await this.#life.starting
      const out: Record<string, Session> = {}
      for (const id of this.cluster.ids()) {
        const loaded = await this.cluster.load(id)
        const sess = loaded && toFastify(loaded)
        if (sess && !isCookieExpired(sess, Date.now())) out[id] = sess
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

  /** Whether the cookie's max age differs from the stored session's idle limit (beyond a clock's drift). */
  #maxAgeChanged(sid: string, sess: StoredSession): boolean {
    const maxInactiveMs = cookieMaxInactiveMs(sess)
    if (maxInactiveMs === undefined) return false
    const stored = this.cluster.meta(sid)?.maxInactiveMs
    return stored !== undefined && Math.abs(stored - maxInactiveMs) >= MAX_AGE_DRIFT_MS
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

/** A max age recomputed from a date drifts by milliseconds; below this it did not change. */
const MAX_AGE_DRIFT_MS = 1_000

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

/** Cluster attributes → what @fastify/session restores a Session from (the cookie mapping is shared with Express). */
function toFastify(loaded: LoadedSession): Session {
  return toFrameworkSession(loaded) as unknown as Session
}
