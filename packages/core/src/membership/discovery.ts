import type { Clock } from '../clock/clock.js'
import type { Logger } from '../logger.js'
import type { Address, Member } from '../member.js'
import type { Metrics } from '../metrics.js'

/**
 * What a discovery is given when the membership starts it: who this node is (its cluster address is final by
 * then), and a callback for when the contacts changed (the membership then calls them without waiting a tick).
 */
export interface DiscoveryContext {
  readonly self: Member
  readonly clock: Clock
  readonly logger: Logger
  readonly metrics: Metrics
  /** Call after `contacts()` changed. Must not block. */
  contactsChanged(): void
}

/**
 * Where members come from: a configured list, multicast announcements, a DNS name, the ports of a range on this
 * host. Separate from failure detection: a discovery only says where members may be; the membership heartbeats
 * those addresses, admits who answers, and checks directly a member whose address a discovery no longer reports
 * (it is removed only if it does not answer).
 */
export interface Discovery {
  /** For logs and status: `static`, `multicast`, `dns`, `local`, or a custom name. */
  readonly kind: string
  /** Begin finding (sockets, timers). Rejects with a named error when it cannot work (e.g. no multicast route). */
  start(context: DiscoveryContext): Promise<void>
  /** Release sockets and timers. Idempotent. */
  stop(): Promise<void>
  /** Addresses where members may be listening, now (this node's own address may be among them). */
  contacts(): readonly Address[]
  /**
   * Whether the contacts are final enough for a starting node to decide who is there (Akka's stable contact points):
   * until then it neither starts alone nor picks a state source. Then it waits for every contact that accepts
   * connections to answer, so nodes that start together all join one cluster.
   */
  settled(): boolean
}
