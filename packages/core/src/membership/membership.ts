import type { Member } from '../member.js'

/** `alive`: answering. `suspect`: silent too long, or a failure was reported; being checked directly. */
export type MemberState = 'alive' | 'suspect'

/** A remote member as this node sees it. */
export interface MemberInfo extends Member {
  readonly state: MemberState
  /** When that process started (its own clock): the longest-running ready member is the preferred state source. */
  readonly startedAt: number
  /** It finished its state transfer and serves requests. */
  readonly ready: boolean
  /** Monotonic time (this node's clock) of the last sign of life. */
  readonly lastSeenAt: number
}

/**
 * Why a member left: gracefully (`left`); its port refuses connections, so its process is gone (`gone`);
 * failure detection gave up on it (`failed`: silent, and no answer to a direct check; it may still be running
 * behind a broken link); or a new incarnation took its address (`replaced`).
 */
export type LeaveReason = 'left' | 'gone' | 'failed' | 'replaced'

/** Listeners must not block: they run inside the membership's timers and message handlers. */
export interface MembershipEvents {
  join: (member: MemberInfo) => void
  suspect: (member: MemberInfo) => void
  /** A suspect answered a direct check. */
  alive: (member: MemberInfo) => void
  leave: (member: MemberInfo, reason: LeaveReason) => void
  /** A member's readiness changed. */
  update: (member: MemberInfo) => void
  /**
   * An incarnation that failure detection removed is heard from again (it was cut off, not dead); it is
   * readmitted once it answers a direct check. Meanwhile it may hold changes this node lacks.
   */
  stray: (member: MemberInfo) => void
}

/** Where this node looks for members, for status pages: the discovery's kind, its contacts now, whether they settled. */
export interface DiscoveryStatus {
  kind: string
  /** `host:port` of every contact (this node's own address included when the discovery reports it). */
  contacts: string[]
  settled: boolean
}

/** Who is in the cluster. Where members come from is a `Discovery` (discovery.ts); `heartbeatMembership` runs over any of them. */
export interface Membership {
  /** This node's incarnation. */
  readonly local: Member
  start(): Promise<void>
  /** Announce leaving to every member, then stop all timers. Idempotent. */
  stop(): Promise<void>
  /** Remote members, alive and suspect. */
  members(): MemberInfo[]
  /** What the discovery reports now. */
  discoveryStatus(): DiscoveryStatus
  member(id: string): MemberInfo | undefined
  /**
   * Configured members neither heard from nor refusing connections: a starting node waits (up to its state
   * transfer timeout) for them before it concludes it is alone. A port that refuses connections has no node
   * behind it, so no sessions to wait for.
   */
  pendingSeeds(): number
  /**
   * Whether a member with this route is alive and serving: a suspect one is not (its sessions should move), nor a
   * restarted one still pulling state (the balancer sends its users elsewhere meanwhile, and they must stay there).
   */
  hasRoute(route: string): boolean
  /** Nodes heard from that replicate differently and are never admitted: address (`host:port`) → their plan. */
  otherPlans(): ReadonlyMap<string, string>
  /** Announce this node's readiness in heartbeats. */
  setReady(ready: boolean): void
  /** Report a member that failed to answer (e.g. an ack timeout): it is checked directly, then removed if silent. */
  suspect(memberId: string, reason: string): void
  on<K extends keyof MembershipEvents>(event: K, listener: MembershipEvents[K]): () => void
}
