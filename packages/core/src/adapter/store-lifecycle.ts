import type { SessionCluster } from '../cluster/session-cluster.js'

/**
 * The part of a framework store's life that both adapters share: the store starts its cluster (start is
 * idempotent) and its operations wait until the cluster is ready; `close()` stops the cluster only when the store
 * owns it (`clusterStore()` made it).
 */
export class StoreLifecycle {
  readonly #cluster: SessionCluster
  readonly #ownsCluster: boolean
  #starting: Promise<void> | undefined
  #closing: Promise<void> | undefined

  constructor(cluster: SessionCluster, ownsCluster: boolean) {
    this.#cluster = cluster
    this.#ownsCluster = ownsCluster
    const starting = cluster.start().then(() => {
      this.#starting = undefined
    })
    // A failed start reaches every operation (and `ready`); it must not crash the process on its own.
    starting.catch(() => {})
    this.#starting = starting
  }

  /** Pending while the cluster starts (await it before an operation); undefined once it is ready. */
  get starting(): Promise<void> | undefined {
    return this.#starting
  }

  /** Resolves once the cluster is ready (state transfer done); rejects if it could not start. */
  get ready(): Promise<void> {
    return this.#starting ?? Promise.resolve()
  }

  /** Stops the cluster if the store owns it; otherwise the cluster is its creator's. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#ownsCluster ? this.#cluster.stop() : Promise.resolve()
    return this.#closing
  }
}
