/**
 * Every cluster message is a plain object with a string type tag `t` (a discriminated union per module:
 * membership, replication, state transfer). Versioning lives in the channel envelope.
 */
export interface ClusterMessage {
  readonly t: string
  readonly [field: string]: unknown
}

/** How a message is delivered. `async`: fire and forget, ordered per peer. `ack`: resolves once the receiver applied it. */
export type Delivery = 'async' | 'ack'
