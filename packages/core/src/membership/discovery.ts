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
 * How a starting node that has heard from nobody yet decides it may start alone.
 * - `seeds`: once every contact either answered or refuses connections (a configured list: a listed node that is
 *   down holds no sessions to wait for).
 * - `lowest-address`: once the contacts are settled, only the node with the lowest address among the contacts
 *   that do not refuse connections starts alone; every other node waits until it hears a member (Akka's cluster
 *   bootstrap). Nodes that start at the same moment then form one cluster, not several.
 */
export type BootstrapRule = 'seeds' | 'lowest-address'

/**
 * Where members come from: a configured list, multicast announcements, a DNS name, the ports of a range on this
 * host. Separate from failure detection: a discovery only says where members may be; the membership heartbeats
 * those addresses, admits who answers, and checks directly a member whose address a discovery no longer reports
 * (it is removed only if it does not answer).
 */
export interface Discovery {
  /** For logs and status: `static`, `multicast`, `dns`, `local`, or a custom name. */
  readonly kind: string
  readonly bootstrap: BootstrapRule
  /** Begin finding (sockets, timers). Rejects with a named error when it cannot work (e.g. no multicast route). */
  start(context: DiscoveryContext): Promise<void>
  /** Release sockets and timers. Idempotent. */
  stop(): Promise<void>
  /** Addresses where members may be listening, now (this node's own address may be among them). */
  contacts(): readonly Address[]
  /** Whether the contacts are final enough to decide that nobody else is there (see `BootstrapRule`). */
  settled(): boolean
}
