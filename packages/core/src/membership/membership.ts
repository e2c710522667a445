import type { Member } from '../member.js'

/** `alive`: heard from recently. `suspect`: silent too long or failed to ack; being verified directly. */
export type MemberState = 'alive' | 'suspect'

/** A remote member as this node sees it. */
export interface MemberInfo extends Member {
  readonly state: MemberState
  /** When that process started (its own clock): the longest-running ready member is the preferred state source. */
  readonly startedAt: number
  /** It finished its state transfer and serves requests. */
  readonly ready: boolean
  /** Local time of the last sign of life. */
  readonly lastSeenAt: number
}

export type LeaveReason = 'left' | 'failed' | 'replaced'

/** Listeners must not block: they run inside the membership's timers and message handlers. */
export interface MembershipEvents {
  join: (member: MemberInfo) => void
  suspect: (member: MemberInfo) => void
  /** A suspect proved alive. */
  alive: (member: MemberInfo) => void
  /** A member left: gracefully (`left`), by failure detection (`failed`), or a new incarnation took its address (`replaced`). */
  leave: (member: MemberInfo, reason: LeaveReason) => void
  /** A member's readiness changed. */
  update: (member: MemberInfo) => void
}

/** Who is in the cluster. Implementations: static list (this package), multicast and DNS later. */
export interface Membership {
  /** This node's incarnation. Valid after `start()`. */
  readonly local: Member
  start(): Promise<void>
  /** Announce leaving to every member, then stop all timers. Idempotent. */
  stop(): Promise<void>
  /** Remote members, alive and suspect. */
  members(): MemberInfo[]
  /** Configured members not heard from yet: a starting node waits (bounded) for them before it concludes anything. */
  pendingSeeds(): number
  /** Whether any live member currently has this route. */
  hasRoute(route: string): boolean
  /** Announce this node's readiness in heartbeats. */
  setReady(ready: boolean): void
  /** Report a peer that failed to answer (e.g. an ack timeout): it is verified directly, then removed if silent. */
  suspect(memberId: string, reason: string): void
  on<K extends keyof MembershipEvents>(event: K, listener: MembershipEvents[K]): () => void
}
