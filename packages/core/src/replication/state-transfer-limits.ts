/** Bounds on the state transfers one node serves at once (every transfer holds a snapshot of the session table). */
export interface StateTransferLimits {
  /** Transfers served at once, to all peers together. */
  maxTransfers: number
  /** Transfers served at once to one peer; a newer one from the same peer replaces its least recently used one. */
  maxTransfersPerPeer: number
  /**
   * Estimated bytes of the records open transfers hold on to (a snapshot keeps records alive after the table let
   * go of them). A transfer that would go beyond it waits, unless no other is open: one transfer may always start.
   */
  maxSnapshotBytes: number
}

export const STATE_TRANSFER_LIMITS: StateTransferLimits = {
  // Joiners pick the longest-running member, so a cold start of several nodes lands on one: four serve together,
  // the others are refused and ask another member.
  maxTransfers: 4,
  // A joiner pulls from one member at a time: a second transfer from it means it gave up on the first.
  maxTransfersPerPeer: 1,
  maxSnapshotBytes: 256 * 1024 * 1024,
}

/**
 * A transfer not asked about for this long is stalled: when room is needed it is the first to go. A joiner asks for
 * the next chunks while it merges one, so a transfer in progress is asked about many times a second.
 */
export const STALLED_AFTER_MS = 5_000

/** What planning needs to know of an open transfer. */
export interface OpenTransfer {
  /** The requester's address, as a key. */
  readonly peer: string
  /** Whether the requester was a member of the cluster (as this node saw it) when it started the transfer. */
  readonly member: boolean
  /** Estimated bytes of the records its snapshot holds. */
  readonly bytes: number
  /** Monotonic time it was last asked about. */
  readonly touchedAt: number
}

export type RoomPlan<T> =
  /** Start the new transfer once these are dropped: the peer's own older ones, then others stalled or not a member's. */
  | { replace: T[]; evict: T[] }
  /** No room that may be taken: refuse for now (the requester asks again later, or another member). */
  | { refuse: 'concurrency' | 'memory' }

/**
 * Room for a new transfer from `requester`, expected to hold `expectedBytes`. The requester's own older transfers
 * beyond its cap go first. If the caps are still reached, transfers that may be dropped go next, least recently
 * used first: those of requesters that are not members (when a member asks), then stalled ones. Abandoned
 * transfers therefore never keep a joiner out for longer than STALLED_AFTER_MS, and requesters outside the cluster
 * never keep a member out at all; a transfer in progress is never dropped for another one.
 */
export function planRoom<T extends OpenTransfer>(
  open: readonly T[],
  requester: { peer: string; member: boolean },
  expectedBytes: number,
  now: number,
  limits: StateTransferLimits,
): RoomPlan<T> {
  const mine = open.filter((t) => t.peer === requester.peer).sort((a, b) => a.touchedAt - b.touchedAt)
  const replace = mine.slice(0, Math.max(0, mine.length - limits.maxTransfersPerPeer + 1))
  let rest = open.filter((t) => !replace.includes(t))
  const fits = () =>
    rest.length < limits.maxTransfers && (rest.length === 0 || rest.reduce((sum, t) => sum + t.bytes, 0) + expectedBytes <= limits.maxSnapshotBytes)
  const droppable = rest
    .filter((t) => now - t.touchedAt >= STALLED_AFTER_MS || (requester.member && !t.member))
    .sort((a, b) => Number(a.member) - Number(b.member) || a.touchedAt - b.touchedAt)
  const evict: T[] = []
  while (!fits()) {
    const victim = droppable.shift()
    if (!victim) return { refuse: rest.length >= limits.maxTransfers ? 'concurrency' : 'memory' }
    rest = rest.filter((t) => t !== victim)
    evict.push(victim)
  }
  return { replace, evict }
}
