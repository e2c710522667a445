import type { Channel } from '../../channel/channel.js'
import type { Clock, TimerHandle } from '../../clock/clock.js'
import type { ReplicationMode } from '../../cluster/session-cluster.js'
import type { Codec } from '../../codec/codec.js'
import { MalformedMessageError, StaleReplicaError } from '../../errors.js'
import type { Logger } from '../../logger.js'
import { type Address, addressKey } from '../../member.js'
import type { LeaveReason, MemberInfo, Membership } from '../../membership/membership.js'
import type { Metrics } from '../../metrics.js'
import { type Delta, recordFromWire, type SessionTable, WireStrings, } from '../../session/index.js'
import { AntiEntropy } from '../anti-entropy/anti-entropy.js'
import type { PeerRequestLimits } from '../peer-request-limits.js'
import { pullState, StateTransferServer, type StateTransferOutcome } from '../state-transfer.js'
import type { StateTransferLimits } from '../state-transfer-limits.js'
import type { ReplicationStrategy } from '../strategy.js'
import type { ReplicationStreams } from '../stream/replication-streams.js'
import { answerFetches, replicationStreamsFor } from '../strategy-parts.js'

export interface AllToAllInit {
  channel: Channel
  membership: Membership
  table: SessionTable
  codec: Codec
  clock: Clock
  metrics: Metrics
  logger: Logger
  mode: ReplicationMode
  ackTimeoutMs: number
  leaseMs: number
  maxUnackedBytes: number
  maxBatchBytes: number
  stateTransferTimeoutMs: number
  stateTransferChunkBytes: number
  stateTransferLimits: StateTransferLimits
  /** Budgets of the work peers' requests make this node do (shared with housekeeping). */
  requestLimits: PeerRequestLimits
  antiEntropyIntervalMs: number
  tombstoneRetentionMs: number
  maxClockSkewMs: number
  heartbeatIntervalMs: number
  /** How long reads keep checking with a member that failure detection gave up on (see #ghosts). */
  ghostMs: number
  /** Merge peers' deltas into the table (and emit events). */
  apply(deltas: Delta[], why: 'expired' | undefined): void
  /** Destroy sessions here as a local change (stamped, applied, replicated). */
  destroy(ids: string[]): Promise<void>
  isReady(): boolean
  /** A member was excluded from sync replication until it catches up (reason: ack-timeout, connection-lost...). */
  onFenced?(member: MemberInfo, reason: string): void
}

/**
 * All-to-all replication (Tomcat's DeltaManager, without its gaps): every member holds every session and
 * every commit goes to every member over its replication stream. In `sync` mode a commit waits for every
 * member in step; a member that stops acknowledging is excluded once its read lease has run out, and a node
 * whose lease on some member's writes has run out fetches a session from that member before serving it
 * (or answers 503), so no read misses an acknowledged write. Anti-entropy repairs what streams could not.
 */
export class AllToAllStrategy implements ReplicationStrategy {
  readonly name = 'delta' as const
  readonly holdsEverySession = true
  readonly #init: AllToAllInit
  readonly #streams: ReplicationStreams
  readonly #antiEntropy: AntiEntropy
  readonly #stateTransfers: StateTransferServer
  /**
   * Members to complete an anti-entropy round with before local reads are trusted again: a member left while
   * our copy of its writes was out of step, and these were in step with it.
   */
  readonly #catchUp = new Set<string>()
  /**
   * Members failure detection gave up on (unproven: they may be running behind a broken link, and may have
   * stopped waiting for us) → until when reads fetch from them first. A link that broke for a moment heals
   * within this time and the member rejoins; a member that stays unreachable turns reads into 503s until then,
   * after which this node serves without it (a long partition: both sides serve, and merge when it heals).
   */
  readonly #ghosts = new Map<string, { member: MemberInfo; until: number }>()
  #timer: TimerHandle | undefined
  /**
   * Our own state transfer is over. Before that, a round would ask every member for the records the transfer is
   * bringing anyway (and a member still pulling state would be pushed what its transfer brings): rounds wait
   * for both sides' transfers, then compare tables that already agree, which costs one digest exchange.
   */
  #transferred = false
  #unsubscribe: Array<() => void> = []

  constructor(init: AllToAllInit) {
    this.#init = init
    const { channel, membership, clock, metrics, logger, table } = init
    this.#streams = replicationStreamsFor(init, (member, inSync, reason) => this.#memberGone(member, inSync, reason))
    this.#antiEntropy = new AntiEntropy({
      ...this.#parts(),
      intervalMs: init.antiEntropyIntervalMs,
      requestTimeoutMs: Math.max(init.ackTimeoutMs, 5_000),
      chunkBytes: init.stateTransferChunkBytes,
      tombstoneRetentionMs: init.tombstoneRetentionMs,
      maxClockSkewMs: init.maxClockSkewMs,
      apply: (deltas) => init.apply(deltas, undefined),
      destroy: init.destroy,
      onSynced: (member, from) => this.#streams.markSynced(member.id, from),
      requestLimits: init.requestLimits,
    })
    const isMember = (from: Address) => {
      const key = addressKey(from)
      return membership.members().some((m) => addressKey(m.address) === key)
    }
    this.#stateTransfers = new StateTransferServer(table, clock, metrics, init.stateTransferChunkBytes, {
      limits: init.stateTransferLimits,
      requestLimits: init.requestLimits,
      isMember,
      logger,
    })
    this.#stateTransfers.attach(channel)
    answerFetches(channel, table, init.requestLimits)
  }

  async start(signal: AbortSignal): Promise<StateTransferOutcome> {
    const { membership, clock, leaseMs } = this.#init
    this.#streams.start()
    this.#unsubscribe.push(
      membership.on('join', (m) => {
        this.#ghosts.delete(m.id)
        this.#antiEntropy.memberBack(m)
        this.#syncWhenBothReady(m)
      }),
      // A member that went silent may be on the other side of a partition, holding sessions we destroy meanwhile.
      // A refused port ('gone') may be a firewall rejecting during a partition, not only a dead process.
      membership.on('leave', (m, reason) => this.#antiEntropy.memberLeft(m, reason === 'failed' || reason === 'gone')),
      // A joiner finished its state transfer: compare tables now (its stream grants no lease until we have).
      membership.on('update', (m) => this.#syncWhenBothReady(m)),
      // Removed, but back on the wire: it may have committed without us. Check with it before serving reads.
      membership.on('stray', (m) => {
        if (this.#init.mode === 'sync') this.#ghosts.set(m.id, { member: m, until: clock.monotonic() + this.#init.ghostMs })
      }),
    )
    this.#timer = clock.setInterval(() => this.#maintain(), Math.max(1, Math.floor(leaseMs / 2)))
    const outcome = await pullState(
      {
        ...this.#parts(),
        apply: (deltas) => this.#init.apply(deltas, undefined),
        timeoutMs: this.#init.stateTransferTimeoutMs,
        requestTimeoutMs: Math.max(this.#init.ackTimeoutMs, 5_000),
        pollMs: Math.min(100, this.#init.heartbeatIntervalMs),
      },
      signal,
    )
    // Whatever the transfer missed (it timed out, or raced a member's commits before that member knew us) is
    // repaired by anti-entropy with every member, in the background: until a round with a member completes, reads
    // fetch that member's copy first (no lease), so readiness need not wait for it.
    if (signal.aborted) return outcome // stopped meanwhile: start no timer
    this.#transferred = true
    this.#antiEntropy.start()
    for (const member of membership.members()) this.#syncWhenBothReady(member)
    return outcome
  }

  /**
   * Leaving: one anti-entropy round with every ready member, bounded in time, so whatever only this node holds
   * (a write acknowledged by a member that has restarted since, or that a joiner's transfer missed and no round
   * has repaired yet) is somewhere else before it goes. In a rolling restart that is the last copy.
   */
  async #handOff(): Promise<void> {
    if (!this.#transferred) return
    const members = this.#init.membership.members().filter((m) => m.state === 'alive' && m.ready)
    if (members.length === 0) return
    const rounds = Promise.all(members.map((m) => this.#antiEntropy.sync(m)))
    let timer: TimerHandle | undefined
    const timeout = new Promise<void>((resolve) => (timer = this.#init.clock.setTimeout(resolve, Math.min(2_000, 2 * this.#init.ackTimeoutMs))))
    await Promise.race([rounds, timeout])
    timer?.cancel()
  }

  #syncWhenBothReady(member: MemberInfo): void {
    if (this.#transferred && member.ready) void this.#antiEntropy.sync(member)
  }

  /** The node's components that the shared replication pieces take. */
  #parts() {
    const { channel, membership, table, clock, metrics, logger } = this.#init
    return { channel, membership, table, clock, metrics, logger }
  }

  async stop(): Promise<void> {
    this.#timer?.cancel()
    for (const off of this.#unsubscribe.splice(0)) off()
    await this.#handOff()
    this.#antiEntropy.stop()
    this.#streams.stop()
    this.#stateTransfers.flush()
  }

  async commit(deltas: Delta[], why?: 'expired'): Promise<void> {
    const outcomes = this.#streams.publish(deltas, why)
    if (this.#init.mode !== 'sync') {
      outcomes.catch(() => {})
      return
    }
    const result = await outcomes
    let applied = 0
    let excluded = 0
    for (const outcome of result.values()) {
      if (outcome === 'applied') applied++
      else this.#init.metrics.increment(`replication.commit.${outcome}`)
      if (outcome === 'excluded' || outcome === 'refused') excluded++
    }
    if (applied === 0 && (excluded > 0 || this.#liveGhosts() > 0)) {
      // Members are alive as far as we know (excluded, or removed without proof), yet none holds the change:
      // acknowledging it would leave it on this node alone, to be lost if this node dies. The change stays here
      // (and spreads when members are back); the request fails with 503 so the balancer retries elsewhere.
      this.#init.metrics.increment('replication.commit.unreplicated')
      throw new StaleReplicaError('no member in step applied the change: it is on this node only')
    }
  }

  beforeRead(base: string): Promise<void> | undefined {
    if (this.#init.mode !== 'sync') return undefined
    const catchingUp = this.#catchUp.size > 0
    let behind: MemberInfo[] | undefined
    for (const m of this.#init.membership.members()) {
      if (catchingUp || !this.#streams.inSyncWith(m.id)) (behind ??= []).push(m)
    }
    if (this.#ghosts.size > 0) {
      const now = this.#init.clock.monotonic()
      for (const [id, ghost] of this.#ghosts) {
        if (ghost.until <= now) this.#ghosts.delete(id)
        else (behind ??= []).push(ghost.member)
      }
    }
    if (behind === undefined) return undefined
    this.#init.metrics.increment('replication.read-fetches')
    return Promise.all(behind.map((member) => this.#fetch(member, base))).then(() => undefined)
  }

  async fetchSession(base: string, memberIds?: readonly string[]): Promise<void> {
    const from = this.#init.membership.members().filter((m) => m.state === 'alive' && (!memberIds || memberIds.includes(m.id)))
    await Promise.allSettled(from.map((member) => this.#fetch(member, base)))
  }

  #liveGhosts(): number {
    const now = this.#init.clock.monotonic()
    let live = 0
    for (const [id, ghost] of this.#ghosts) {
      if (ghost.until <= now) this.#ghosts.delete(id)
      else live++
    }
    return live
  }

  expiresHere(route: string): boolean {
    const { membership } = this.#init
    if (route === membership.local.route) return true
    if (route && membership.hasRoute(route)) return false
    // The owner is gone: the alive member with the smallest id expires it.
    const self = membership.local.id
    return membership.members().every((m) => m.state !== 'alive' || m.id > self)
  }

  tombstonesConfirmedThrough(): number {
    return this.#antiEntropy.confirmedThrough()
  }

  status(): Record<string, unknown> {
    return { streams: this.#streams.describe(), catchingUp: this.#catchUp.size > 0, stateTransfers: this.#stateTransfers.describe() }
  }

  async #fetch(member: MemberInfo, base: string): Promise<void> {
    const { channel, leaseMs } = this.#init
    let reply: unknown
    try {
      reply = await channel.request(member.address, { t: 'fetch', ids: [base] }, { timeoutMs: leaseMs })
    } catch (error) {
      this.#init.metrics.increment('replication.read-fetch-failures')
      throw new StaleReplicaError(`cannot confirm session state with member ${member.route}: ${(error as Error).message}`, { cause: error })
    }
    const { s, r } = reply as { t?: unknown; s?: unknown; r?: unknown }
    if ((reply as { t?: unknown }).t !== 'fetched' || !Array.isArray(r) || r.length > 1) throw new MalformedMessageError('bad fetch reply')
    const strings = new WireStrings(s)
    if (r.length === 1) this.#init.apply([recordFromWire(r[0], strings)], undefined)
  }

  #memberGone(member: MemberInfo, inSync: boolean, reason: LeaveReason): void {
    if (this.#init.mode !== 'sync') return
    if (reason === 'failed') this.#ghosts.set(member.id, { member, until: this.#init.clock.monotonic() + this.#init.ghostMs })
    if (inSync || !this.#init.isReady()) return
    // It may have committed without us before it went: every remaining member that was in step with it holds
    // those commits. Read through them until anti-entropy with each has completed.
    this.#init.logger.info('catching up after a member left while out of step with it', { route: member.route })
    this.#init.metrics.increment('replication.catch-ups')
    for (const m of this.#init.membership.members()) this.#catchUp.add(m.id)
    this.#continueCatchUp()
  }

  #continueCatchUp(): void {
    for (const id of this.#catchUp) {
      const member = this.#init.membership.member(id)
      if (!member) {
        this.#catchUp.delete(id)
        continue
      }
      void this.#antiEntropy.sync(member).then((done) => done && this.#catchUp.delete(id))
    }
  }

  /** Periodic: repair streams that need it. */
  #maintain(): void {
    if (!this.#transferred) return
    for (const s of this.#streams.describe()) {
      const member = this.#init.membership.member(s.id)
      if (member && !this.#streams.isSynced(s.id)) this.#syncWhenBothReady(member)
    }
    this.#continueCatchUp()
  }
}
