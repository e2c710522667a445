import type { SessionDiff } from '../session/index.js'
import type { LoadedSession, SessionData, SessionMeta } from './session-cluster.js'

/**
 * What `load` returns: the session as the app sees it, plus, out of the app's sight, the stored JSON of each
 * attribute it was read from (its baseline), so that a save sends only what the request changed. A private field
 * rather than a WeakMap keyed by the object: a load per request made the WeakMap's entries a measurable part of
 * garbage collection.
 */
export class LoadedCopy implements LoadedSession {
  readonly id: string
  readonly data: SessionData
  readonly meta: SessionMeta
  #baseline: ReadonlyMap<string, string>

  constructor(id: string, data: SessionData, meta: SessionMeta, baseline: ReadonlyMap<string, string>) {
    this.id = id
    this.data = data
    this.meta = meta
    this.#baseline = baseline
  }

  /** The baseline of a session this cluster loaded; undefined for any other object (say, one an app built). */
  static baselineOf(loaded: LoadedSession | undefined): ReadonlyMap<string, string> | undefined {
    return loaded instanceof LoadedCopy ? loaded.#baseline : undefined
  }

  /**
   * After a successful save the request's view is what it saved: a second save of the same values (an explicit
   * `save()`, then the framework's own at the end of the request) finds nothing to send.
   */
  saved(diff: SessionDiff): void {
    const after = new Map(this.#baseline)
    for (const [name, json] of diff.set) after.set(name, json)
    for (const name of diff.removed) after.delete(name)
    this.#baseline = after
  }
}
