import type { Session } from 'fastify'
import {
  callbackOrPromise,
  ClusterStoreCore,
  type ClusterStoreCoreOptions,
  type LoadedSession,
  type RequestSaveState,
  type SessionCluster,
  type SessionData as ClusterData,
  type StoreCallback,
} from '@session-cluster/core'
import './types.js'

/** What @fastify/session hands to `set`: its `Session` (own enumerable keys: `cookie` and the user's attributes). */
export type StoredSession = object
export type ClusterStoreOptions = ClusterStoreCoreOptions
type Attributes = Record<string, unknown>

/** A route rebinding in flight: the next `destroy(from)` is part of it, and `set(to)` continues this state. */
interface Rebind {
  from: string
  to: string
  state: RequestSaveState & { loaded: LoadedSession }
  destroyed: boolean
}

/**
 * A @fastify/session store over a SessionCluster: reads are local, every change replicates to the peers, and
 * a save sends only the attributes the request changed, measured against what it loaded (so `set` on every
 * request, as `rolling` does, replicates nothing when nothing changed, and concurrent requests on different
 * nodes that change different attributes both survive). The same store as @session-cluster/express's
 * ClusterStore (this one extends core's ClusterStoreCore, that one forwards to it, as it must extend
 * express-session's Store); this one adds what the plugin needs from
 * @fastify/session: tying a Session to its load (`claim`) and route rebinding through `regenerate`.
 *
 * Methods take an optional callback and return a promise when none is given. Data is copied both ways: a
 * session handed to `set` is serialised, one returned by `get` is a fresh copy.
 *
 * @example
 * await fastify.register(fastifySession, { secret, store: new ClusterStore(cluster) })
 */
export class ClusterStore extends ClusterStoreCore<Session> {
  /** Loads waiting to be tied to the Session built from them (see `claim`); dropped on the next turn of the loop. */
  readonly #pending = new Map<string, LoadedSession[]>()
  #sweepScheduled = false
  /** Session object → what the store knows about it (a Session lives for one request). */
  readonly #states = new WeakMap<object, RequestSaveState>()
  readonly #rebinds: Rebind[] = []

  /** Starts the cluster if it is not (start is idempotent); operations wait until it is ready. */
  constructor(cluster: SessionCluster, options: ClusterStoreOptions = {}) {
    // The mapping's functions run only once an operation does, after the fields above exist.
    super(
      cluster,
      {
        stateOf: (sid, sess) => {
          let state = this.#states.get(sess) ?? this.#continueRebind(sid, sess)
          if (!state) this.#states.set(sess, (state = {}))
          return state
        },
        loaded: (_sess, loaded) => this.#remember(loaded),
      },
      options,
    )
  }

  override destroy(sid: string, callback?: StoreCallback<void>): Promise<void> {
    // `regenerate` destroys the old id before saving the new one; a rebinding keeps the session (stored by
    // its random part, which does not change), so that destroy must not happen.
    const rebind = this.#rebinds.find((r) => r.from === sid && !r.destroyed)
    if (!rebind) return super.destroy(sid, callback)
    rebind.destroyed = true
    return callbackOrPromise(callback, async () => {})
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
    return this.#states.get(session)?.stored === true
  }

  /**
   * Run `regenerate` (which destroys `from`, then saves under a new id) as a change of route from `from` to
   * `to` for the session that `session` was claimed as: the destroy is skipped and the save diffs against the
   * original load.
   */
  async rebind(session: StoredSession, from: string, to: string, regenerate: () => Promise<void>): Promise<void> {
    const state = this.#states.get(session)
    if (!state?.loaded) return regenerate()
    const entry: Rebind = { from, to, state: state as Rebind['state'], destroyed: false }
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
    // claimed (reload, an expired session, another caller): forget it. One sweep per turn, not one per load.
    if (this.#sweepScheduled) return
    this.#sweepScheduled = true
    setImmediate(() => {
      this.#sweepScheduled = false
      this.#pending.clear()
    })
  }

  /** `set` of the new Session that a rebinding `regenerate` built (it copied the old one's values). */
  #continueRebind(sid: string, sess: StoredSession): RequestSaveState | undefined {
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
