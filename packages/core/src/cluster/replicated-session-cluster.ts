import type { Channel } from '../channel/channel.js'
import type { Clock } from '../clock/clock.js'
import { InvalidParametersError, NotStartedError, ReplicationMismatchError, TooManySessionsError } from '../errors.js'
import { TypedEmitter } from '../events.js'
import type { Logger } from '../logger.js'
import { addressKey, type Member } from '../member.js'
import type { Membership } from '../membership/membership.js'
import type { Histogram, Metrics } from '../metrics.js'
import type { Codec } from '../codec/codec.js'
import { LoadedCopy } from './loaded-copy.js'
import { createStrategy } from '../replication/create-strategy.js'
import { Housekeeping } from '../replication/housekeeping.js'
import { chunked } from '../replication/messages.js'
import { PeerRequestLimits } from '../replication/peer-request-limits.js'
import type { StateTransferOutcome } from '../replication/state-transfer.js'
import type { ReplicationStrategy } from '../replication/strategy.js'
import type { PeerRefusal } from '../transport/transport.js'
import {
  type Delta,
  deltaForLocalChange,
  deltaMaxStamp,
  diffSession,
  HybridClock,
  isEmptyDiff,
  isPartialCopy,
  isUnsetRegister,
  liveAttributes,
  loadSession,
  maxStamp,
  type SessionChange,
  type SessionRecord,
  SessionTable,
  type Stamp,
} from '../session/index.js'
import { covers, encodeVersionToken, parseVersionToken, type VersionToken, versionOf } from '../session/version-token.js'
import { chooseRoute, type RebindMode } from '../valve/route-binding.js'
import { formatSessionId, generateSessionId, sessionIdOf, sessionKeyOf } from '../valve/session-id.js'
import { countRejection, MAX_RECENT_EVENTS, observeMembership } from './observe.js'
import { type CLUSTER_DEFAULTS, replicationPlan } from './options.js'
import type {
  ClusterEvent,
  ClusterStatus,
  LoadedSession,
  LoadOptions,
  ReplicationMode,
  SaveOptions,
  SessionCluster,
  SessionClusterEvents,
  SessionData,
  SessionMeta,
} from './session-cluster.js'

/** Settings after defaults are merged and validated (see options.ts). */
export type ClusterSettings = {
  -readonly [K in keyof typeof CLUSTER_DEFAULTS]: (typeof CLUSTER_DEFAULTS)[K] extends number ? number : (typeof CLUSTER_DEFAULTS)[K]
}

export interface ClusterParts {
  channel: Channel
  membership: Membership
  clock: Clock
  logger: Logger
  metrics: Metrics
  settings: ClusterSettings
  codec: Codec
  /** Write what the logger still holds back (repeat counts) when the node stops. */
  flushLog?: () => void
}

/** Clocks of members may differ this much; the hybrid clock does not follow a peer further ahead. */
const MAX_CLOCK_SKEW_MS = 60_000

/** What an operator should read when a peer refuses us. */
const REFUSAL_TEXT: Record<PeerRefusal, string> = {
  'wrong-secret': 'wrong secret or cluster name',
  'incompatible-version': 'no wire protocol version in common (upgrade one release at a time)',
  'not-a-node': 'not a session-cluster node (does the member address name an HTTP port?)',
}

/**
 * A cluster node: sessions, stamps, events and the public API. Each save sends only the attributes the request
 * changed, stamped by a hybrid logical clock, and every node merges them the same way whatever the order,
 * duplication or timing. Where sessions live is the replication strategy's: every node (all-to-all, Tomcat's
 * DeltaManager without its gaps) or each session's owners (`manager: 'backup'`, Tomcat's BackupManager). See
 * "How it stays correct" in the core README and docs/consistency.md.
 */
export class ReplicatedSessionCluster implements SessionCluster {
  readonly #p: ClusterParts
  readonly #s: ClusterSettings
  readonly #table: SessionTable
  readonly #hlc: HybridClock
  readonly #events: TypedEmitter<SessionClusterEvents>
  readonly #strategy: ReplicationStrategy
  readonly #housekeeping: Housekeeping
  readonly #requestLimits: PeerRequestLimits
  #state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new'
  #stateTransfer: StateTransferOutcome | 'pending' = 'pending'
  #ready = false
  #readyPromise: Promise<void>
  #resolveReady!: () => void
  #rejectReady!: (error: Error) => void
  #startPromise?: Promise<void>
  #abort = new AbortController()
  #offMembership: Array<() => void> = []
  /** Refusals an operator must act on, by detail (bounded: see status().refusedPeers). */
  readonly #refusedPeers = new Map<string, string>()
  /** Peers that refuse our connections (wrong secret or cluster name, no common protocol, no node of ours), by address. */
  readonly #rejectedBy = new Map<string, { reason: PeerRefusal; detail: string }>()
  /** The last membership and start-up events, oldest first (status().events; bounded). */
  readonly #recentEvents: ClusterEvent[] = []
  readonly #commitLatency: Histogram
  /** Reads waiting for a session to reach a client's version token (async mode), by session. */
  readonly #versionWaiters = new Map<string, Set<() => void>>()

  constructor(parts: ClusterParts) {
    this.#p = parts
    this.#s = parts.settings
    this.#table = new SessionTable({ defaultMaxInactiveMs: this.#s.defaultMaxInactiveMs })
    this.#events = new TypedEmitter((error, event) => parts.logger.error('session listener threw', { event, error }))
    this.#readyPromise = new Promise((resolve, reject) => {
      this.#resolveReady = resolve
      this.#rejectReady = reject
    })
    // Settled either way; only callers of whenReady() should see a rejection.
    this.#readyPromise.catch(() => {})
    this.#commitLatency = parts.metrics.cluster.replicationLatency.labels()
    this.#readGaugesFrom(parts.metrics)
    this.#hlc = new HybridClock(parts.membership.local.id, parts.clock, { maxDriftMs: MAX_CLOCK_SKEW_MS })
    const s = this.#s
    const requestLimits = new PeerRequestLimits({
      clock: parts.clock,
      metrics: parts.metrics,
      logger: parts.logger,
      rates: {
        'state-transfer': { perSecond: s.stateTransfersPerMinute / 60, burst: Math.max(1, s.stateTransfersPerMinute / 2) },
        'anti-entropy': { perSecond: s.antiEntropyRequestsPerSecond, burst: 2 * s.antiEntropyRequestsPerSecond },
        records: { perSecond: s.peerRecordsPerSecond, burst: 2 * s.peerRecordsPerSecond },
      },
    })
    this.#requestLimits = requestLimits
    this.#strategy = createStrategy(s.manager, {
      ...parts,
      backups: s.backups,
      table: this.#table,
      mode: s.replication,
      ackTimeoutMs: s.ackTimeoutMs,
      // Half the ack timeout: a lease granted just before a member stopped answering has run out by the time a
      // commit gives up waiting for it.
      leaseMs: Math.floor(s.ackTimeoutMs / 2),
      maxUnackedBytes: s.maxUnackedBytes,
      maxBatchBytes: Math.min(1024 * 1024, Math.floor(s.maxFrameBytes / 4)),
      stateTransferTimeoutMs: s.stateTransferTimeoutMs,
      stateTransferChunkBytes: s.stateTransferChunkBytes,
      stateTransferLimits: {
        maxTransfers: s.maxStateTransfers,
        maxTransfersPerPeer: s.maxStateTransfersPerPeer,
        maxSnapshotBytes: s.maxStateTransferSnapshotBytes,
      },
      requestLimits,
      antiEntropyIntervalMs: s.antiEntropyIntervalMs,
      tombstoneRetentionMs: s.tombstoneRetentionMs,
      maxClockSkewMs: MAX_CLOCK_SKEW_MS,
      heartbeatIntervalMs: s.heartbeatIntervalMs,
      // One more failure-detection period: a member removed by a transient fault is back by then.
      ghostMs: s.suspectTimeoutMs + 2 * s.verifyTimeoutMs,
      apply: (deltas, why) => this.#applyRemote(deltas, why === 'expired'),
      destroy: (ids) => this.#destroy(ids, false),
      isReady: () => this.#ready,
      onFenced: (m, reason) => this.#recordEvent('fenced', { route: m.route, address: addressKey(m.address), detail: reason }),
    })
    parts.channel.transport.on('peerRefused', (peer, reason, error) => {
      const address = addressKey(peer)
      const known = this.#rejectedBy.get(address)
      this.#rejectedBy.set(address, { reason, detail: error.message })
      parts.metrics.cluster.peerRefusals.labels(reason).inc()
      if (known?.reason !== reason) this.#recordEvent(reason === 'wrong-secret' ? 'rejected-wrong-secret' : 'rejected', { address, detail: reason })
      // Once per peer and reason: the transport retries with backoff, and each refusal would say the same.
      if (known?.reason !== reason) parts.logger.error(`rejected by ${address}: ${REFUSAL_TEXT[reason]}`, { peer: address, detail: error.message })
    })
    parts.channel.transport.on('peerUp', (peer) => void this.#rejectedBy.delete(addressKey(peer)))
    parts.channel.transport.on('rejected', ({ reason, error }) => {
      countRejection(parts.metrics, reason)
      if (reason !== 'incompatible-version' || !error) return
      this.#refusedPeers.delete(error.message)
      this.#refusedPeers.set(error.message, reason)
      if (this.#refusedPeers.size > 16) this.#refusedPeers.delete(this.#refusedPeers.keys().next().value!)
    })
    this.#housekeeping = new Housekeeping({
      ...parts,
      table: this.#table,
      expiresHere: (route, base) => this.#strategy.expiresHere(route, base),
      defaultMaxInactiveMs: this.#s.defaultMaxInactiveMs,
      accessFlushIntervalMs: this.#s.accessFlushIntervalMs,
      expiryIntervalMs: this.#s.expiryIntervalMs,
      tombstoneRetentionMs: this.#s.tombstoneRetentionMs,
      tombstonesConfirmedThrough: () => this.#strategy.tombstonesConfirmedThrough(),
      requestTimeoutMs: this.#s.ackTimeoutMs,
      expire: (ids) => this.#expire(ids),
      requestLimits,
    })
  }

  get metrics(): Metrics {
    return this.#p.metrics
  }

  get local(): Member {
    return this.#p.membership.local
  }

  get route(): string {
    return this.#p.membership.local.route
  }

  get replication(): ReplicationMode {
    return this.#s.replication
  }

  /**
   * State transfer is done, and this node is not shut out: a node whose every peer refuses it (and that has no
   * member) is not a healthy one-node cluster, so it does not say it is ready (see `status().rejectedBy`).
   */
  get ready(): boolean {
    return this.#ready && !this.#shutOut()
  }

  #shutOut(): boolean {
    return this.#rejectedBy.size > 0 && !this.#p.membership.members().some((m) => m.state === 'alive')
  }

  get size(): number {
    return this.#table.size
  }

  start(): Promise<void> {
    if (this.#state === 'stopping' || this.#state === 'stopped') {
      return Promise.reject(new NotStartedError('a stopped cluster node cannot start again: create a new one'))
    }
    this.#startPromise ??= this.#start()
    return this.#startPromise
  }

  whenReady(): Promise<void> {
    return this.#readyPromise
  }

  async #start(): Promise<void> {
    this.#state = 'starting'
    const { membership, logger } = this.#p
    const startedAt = this.#p.clock.monotonic()
    this.#offMembership.push(
      membership.on('join', (m) => this.#events.emit('memberJoined', m)),
      membership.on('leave', (m) => this.#events.emit('memberLeft', m)),
      ...observeMembership(membership, this.#p.metrics, (kind, m, detail) =>
        this.#recordEvent(kind, { route: m.route, address: addressKey(m.address), ...(detail ? { detail } : {}) }),
      ),
    )
    await membership.start()
    if (this.#state !== 'starting') {
      // stop() ran while we were connecting: it could not stop what was not started yet.
      await membership.stop()
      await this.#p.channel.stop()
      throw new NotStartedError('cluster node stopped while starting')
    }
    this.#housekeeping.start()
    this.#state = 'running'
    logger.info('cluster node started', { route: this.route, address: addressKey(this.local.address), replication: this.replication })
    this.#stateTransfer = await this.#strategy.start(this.#abort.signal)
    if (this.#state !== 'running') throw new NotStartedError('cluster node stopped while starting')
    const otherPlans = membership.members().length === 0 ? membership.otherPlans() : undefined
    if (otherPlans && otherPlans.size > 0) {
      const theirs = [...otherPlans].map(([address, plan]) => `${address} runs ${plan}`).join(', ')
      const error = new ReplicationMismatchError(
        `no member replicates as this node does (${replicationPlan(this.#s)}): ${theirs}. Give every node the same manager and backups`,
      )
      this.#rejectReady(error)
      await this.stop()
      throw error
    }
    this.#ready = true
    this.#p.metrics.cluster.stateTransferDuration.labels(this.#stateTransfer).observe((this.#p.clock.monotonic() - startedAt) / 1000)
    this.#recordEvent('state-transfer-done', { detail: this.#stateTransfer })
    membership.setReady(true)
    logger.info('cluster node ready', { route: this.route, stateTransfer: this.#stateTransfer, sessions: this.#table.size })
    this.#resolveReady()
    this.#events.emit('ready')
  }

  async stop(): Promise<void> {
    if (this.#state === 'new' || this.#state === 'stopped' || this.#state === 'stopping') {
      this.#state = 'stopped'
      return
    }
    this.#state = 'stopping'
    this.#abort.abort()
    if (!this.#ready) this.#rejectReady(new NotStartedError('cluster node stopped before it was ready'))
    this.#housekeeping.stop()
    try {
      await this.#housekeeping.flushAccesses()
    } catch (error) {
      this.#p.logger.warn('could not flush access times on stop', { error })
    }
    for (const off of this.#offMembership.splice(0)) off()
    await this.#strategy.stop()
    await this.#p.membership.stop()
    await this.#p.channel.stop()
    this.#requestLimits.flush()
    this.#state = 'stopped'
    this.#p.flushLog?.()
    this.#p.logger.info('cluster node stopped', { route: this.route })
  }

  generateId(): string {
    return generateSessionId(this.route)
  }

  async load(id: string, options?: LoadOptions): Promise<LoadedSession | undefined> {
    const parsed = sessionKeyOf(id)
    if (!parsed) return undefined
    const fencing = this.#state === 'running' ? this.#strategy.beforeRead(parsed.key, parsed.route) : undefined
    if (fencing) await fencing
    if (options?.token !== undefined && this.#s.replication === 'async' && this.#state === 'running') await this.#catchUpTo(parsed.key, options.token)
    if (this.#s.replication === 'async' && this.#state === 'running' && this.#holdsPartialCopy(parsed.key)) {
      // Async streams from different writers are not ordered with each other: a later change made elsewhere can
      // arrive before the session's creation, leaving a copy without what was set at creation (the framework's
      // cookie: express-session cannot rebuild a session without it). Ask the members for the whole session.
      this.#p.metrics.increment('sessions.incomplete-fetches')
      await this.#strategy.fetchSession(parsed.key)
    }
    // Any route of a known random part resolves: the random part is the credential (and cookie signatures cover
    // the route), and a route that lost a concurrent rebind, or whose node died long ago, must still find the
    // session. `routeFor` then tells the adapter which route the cookie should carry.
    // Looked up and read in one synchronous step: a destroy that runs during an await in between would empty the
    // record under us, and the client would see a session with no attributes instead of none.
    let record = this.#table.getLive(parsed.key)
    if (record && this.#isIdle(record)) record = (await this.#stillInUse(parsed.key)) ? this.#table.getLive(parsed.key) : undefined
    if (!record) return undefined
    const view = loadSession(record)
    return new LoadedCopy(id, view.data, this.#metaOf(record), view.baseline)
  }

  async save(id: string, data: SessionData, options: SaveOptions = {}): Promise<void> {
    this.#assertRunning()
    const parsed = sessionKeyOf(id)
    if (!parsed) throw new InvalidParametersError(`not a session id: ${JSON.stringify(id)} (a non-empty string of at most 190 bytes)`)
    // Without a load's baseline the save diffs against the local copy, which must then be up to date.
    const loadedBaseline = LoadedCopy.baselineOf(options.loaded)
    await this.#holdCopy(parsed.key, parsed.route, loadedBaseline === undefined)
    const existing = this.#table.get(parsed.key)
    if (existing?.destroyed) {
      // Destroyed (here or by a concurrent request elsewhere): destruction is final.
      this.#p.metrics.increment('sessions.save-after-destroy')
      return
    }
    const baseline = loadedBaseline ?? (existing ? liveAttributes(existing) : new Map<string, string>())
    const diff = diffSession(baseline, data, { maxSessionBytes: this.#s.maxSessionBytes })
    const now = this.#p.clock.now()
    const isNew = existing === undefined
    if (isNew && this.#table.size >= this.#s.maxSessions) {
      this.#p.metrics.increment('sessions.rejected')
      throw new TooManySessionsError(`this node holds ${this.#table.size} sessions, the maxSessions limit`)
    }
    const maxInactiveMs = validMaxInactive(options.maxInactiveMs ?? this.#s.defaultMaxInactiveMs)
    const maxInactiveChanged = isNew || existing.maxInactiveMs.value !== maxInactiveMs
    // An id without a route is bound to the node that created it (it expires the session first, as an owner
    // does); later saves elsewhere leave that alone, since the id names no route to move to.
    const route = parsed.route ?? (isNew ? this.route : existing.route.value || this.route)
    const routeChanged = isNew || existing.route.value !== route
    if (!isNew && isEmptyDiff(diff) && !maxInactiveChanged && !routeChanged) {
      // Nothing but an access (rolling saves, resave): recorded here, replicated coalesced like touch.
      this.#table.touch(parsed.key, now)
      return
    }
    const delta = deltaForLocalChange(
      existing,
      {
        id: parsed.key,
        diff,
        createdAt: isNew ? now : undefined,
        maxInactiveMs: maxInactiveChanged ? maxInactiveMs : undefined,
        route: routeChanged ? route : undefined,
        lastAccessedAt: now,
      },
      this.#hlc,
    )
    if (!delta) return
    this.#applyLocal(delta)
    this.#p.metrics.increment('sessions.commits')
    if (this.#s.replication !== 'sync') {
      await this.#strategy.commit([delta])
    } else {
      const startedAt = this.#p.clock.monotonic()
      await this.#strategy.commit([delta])
      this.#commitLatency.observe((this.#p.clock.monotonic() - startedAt) / 1000)
    }
    // Not after a failure: a retry sends the change again.
    if (loadedBaseline) (options.loaded as LoadedCopy).saved(diff)
  }

  touch(id: string, options: { maxInactiveMs?: number } = {}): void {
    const parsed = sessionKeyOf(id)
    if (!parsed) return
    const record = this.#table.getLive(parsed.key)
    if (!record) return
    this.#table.touch(parsed.key, this.#p.clock.now())
    if (options.maxInactiveMs !== undefined && record.maxInactiveMs.value !== options.maxInactiveMs) {
      // A changed cookie maxAge is a real (if rare) change: stamp and replicate just that register.
      const maxInactiveMs = validMaxInactive(options.maxInactiveMs)
      const delta = deltaForLocalChange(record, { id: parsed.key, maxInactiveMs }, this.#hlc)
      if (!delta) return
      this.#applyLocal(delta)
      this.#strategy.commit([delta]).catch((error) => this.#p.logger.warn('could not replicate a max inactive change', { error }))
    }
  }

  async destroy(id: string): Promise<void> {
    const parsed = sessionKeyOf(id)
    if (!parsed) return
    // A destruction's stamp wins over any older copy: a cached one needs no refresh. Where this node holds no copy
    // and reaches no owner, the strategy refuses (sync, with members that failed: they may hold it) or lets the
    // logout leave a tombstone of its own, which goes to every member.
    if (this.#state === 'running') await this.#holdCopy(parsed.key, parsed.route, false)
    await this.#destroy([parsed.key], false, !this.#strategy.holdsEverySession)
  }

  async clear(): Promise<void> {
    await this.#destroy(
      [...this.#table].map((r) => r.id),
      false,
    )
  }

  routeFor(id: string, mode: RebindMode): string {
    const parsed = sessionKeyOf(id)
    // An id without a route keeps its id: there is no route in it to rebind.
    if (!parsed?.route) return id
    const record = this.#table.getLive(parsed.key)
    const current = record?.route.value ? record.route.value : parsed.route
    return formatSessionId(parsed.key, chooseRoute(current, this.route, mode, (r) => this.isRouteLive(r)))
  }

  isRouteLive(route: string): boolean {
    return this.#p.membership.hasRoute(route)
  }

  meta(id: string): SessionMeta | undefined {
    const parsed = sessionKeyOf(id)
    const record = parsed && this.#table.getLive(parsed.key)
    return record ? this.#metaOf(record) : undefined
  }

  /** This node's own copy of a session's data, without fetching or fencing (tests and diagnostics), or undefined. */
  peek(id: string): SessionData | undefined {
    const parsed = sessionKeyOf(id)
    const record = parsed && this.#table.getLive(parsed.key)
    return record ? loadSession(record).data : undefined
  }

  ids(): string[] {
    return [...this.#table].map((r) => sessionIdOf(r.id, r.route.value || this.route))
  }

  status(): ClusterStatus {
    const { membership, metrics } = this.#p
    return {
      route: this.route,
      memberId: this.local.id,
      address: addressKey(this.local.address),
      ready: this.ready,
      stateTransfer: this.#stateTransfer,
      replication: this.replication,
      manager: this.#strategy.name,
      members: membership.members().map((m) => ({
        route: m.route,
        id: m.id,
        address: addressKey(m.address),
        state: m.state,
        ready: m.ready,
      })),
      discovery: membership.discoveryStatus(),
      sessions: this.#table.size,
      tombstones: this.#table.tombstoneCount,
      refusedPeers: [...this.#refusedPeers].reverse().map(([detail, reason]) => ({ reason, detail })),
      rejectedBy: [...this.#rejectedBy].map(([address, { reason, detail }]) => ({ address, reason, message: `rejected by ${address}: ${REFUSAL_TEXT[reason]}`, detail })),
      strategy: this.#strategy.status(),
      events: [...this.#recentEvents],
      counters: metrics.snapshot(),
    }
  }

  #recordEvent(kind: ClusterEvent['kind'], fields: Omit<ClusterEvent, 'kind' | 'at'>): void {
    this.#recentEvents.push({ at: this.#p.clock.now(), kind, ...fields })
    if (this.#recentEvents.length > MAX_RECENT_EVENTS) this.#recentEvents.shift()
  }

  /** The gauges are read when scraped, from the state itself: nothing to keep in step on the hot path. */
  #readGaugesFrom(metrics: Metrics): void {
    const { cluster } = metrics
    cluster.sessions.readBy(() => [{ labels: {}, value: this.#table.size }])
    cluster.tombstones.readBy(() => [{ labels: {}, value: this.#table.tombstoneCount }])
    cluster.ready.readBy(() => [{ labels: {}, value: this.ready ? 1 : 0 }])
    cluster.members.readBy(() => {
      let alive = 0
      let suspect = 0
      for (const m of this.#p.membership.members()) m.state === 'alive' ? alive++ : suspect++
      return [
        { labels: { state: 'alive' }, value: alive },
        { labels: { state: 'suspect' }, value: suspect },
      ]
    })
  }

  on<K extends keyof SessionClusterEvents>(event: K, listener: SessionClusterEvents[K]): () => void {
    return this.#events.on(event, listener)
  }

  /**
   * A save or destroy without a load before it, of a session another node created: where sessions do not live on
   * every node, this one may hold no copy, and must get one before it changes it (a destroy of nothing here would
   * destroy nothing anywhere). A session this node created needs none. Where sessions live on their owners only, a
   * copy held here may be a cache of an earlier fetch that later writes elsewhere did not update: when the change is
   * diffed against it (`fresh`), it is refreshed first (the strategy knows when the local copy can be trusted).
   */
  async #holdCopy(base: string, route: string | undefined, fresh: boolean): Promise<void> {
    if (route === undefined || route === this.route) return
    if (this.#table.get(base) && !(fresh && !this.#strategy.holdsEverySession)) return
    const fetching = this.#strategy.beforeRead(base, route)
    if (fetching) await fetching
  }

  #assertRunning(): void {
    if (this.#state !== 'running') throw new NotStartedError(`cluster node is ${this.#state}`)
  }

  /**
   * The live record, unless it is idle past its limit: checked on access, as Tomcat does, so a read never
   * returns a session that the next sweep would expire. Access times reach this node coalesced, so a session
   * that looks idle here is first checked with every member (the sweep's own question); one still idle is
   * expired now. When a member cannot be asked, the session is not served but left for the sweep to decide.
   */
  /**
   * A session that looks idle here may have been used on another node since its last access flush: ask every
   * member before refusing it, and expire it only when none has seen it used.
   */
  async #stillInUse(key: string): Promise<boolean> {
    if (this.#state !== 'running') return false
    if (!(await this.#housekeeping.refreshAccesses([key]))) return false
    const refreshed = this.#table.getLive(key)
    if (!refreshed) return false
    if (!this.#isIdle(refreshed)) return true
    this.#expire([key]).catch((error) => this.#p.logger.warn('could not replicate the expiry of an idle session', { error }))
    return false
  }

  #holdsPartialCopy(key: string): boolean {
    const record = this.#table.get(key)
    return record !== undefined && isPartialCopy(record)
  }

  #isIdle(record: SessionRecord): boolean {
    const maxInactiveMs = isUnsetRegister(record.maxInactiveMs) ? this.#s.defaultMaxInactiveMs : record.maxInactiveMs.value
    // Zero or less never expires (Tomcat's convention).
    return maxInactiveMs > 0 && record.lastAccessedAt + maxInactiveMs <= this.#p.clock.now()
  }

  #metaOf(record: SessionRecord): SessionMeta {
    return {
      createdAt: Number.isFinite(record.createdAt) ? record.createdAt : record.lastAccessedAt,
      lastAccessedAt: record.lastAccessedAt,
      maxInactiveMs: isUnsetRegister(record.maxInactiveMs) ? this.#s.defaultMaxInactiveMs : record.maxInactiveMs.value,
      route: record.route.value || this.route,
    }
  }

  /**
   * `unheld`: destroy a session this node holds no record of too, with a tombstone of its own. Where sessions live
   * on their owners only, a node alone in its view (async mode) holds no copy and cannot fetch one, yet acknowledges
   * the logout: the tombstone goes to every member once they are back, as any destruction does. (An id no owner
   * holds gets one too, purged after the retention like any other.)
   */
  async #destroy(bases: string[], expired: boolean, unheld = false): Promise<void> {
    const deltas: Delta[] = []
    for (const base of bases) {
      const record = this.#table.get(base)
      if (record ? record.destroyed : !unheld) continue
      const delta = deltaForLocalChange(record, { id: base, destroy: true }, this.#hlc)
      if (!delta) continue
      this.#applyLocal(delta, expired)
      deltas.push(delta)
    }
    if (deltas.length === 0 || this.#state !== 'running') return
    this.#p.metrics.increment(expired ? 'sessions.expired' : 'sessions.destroyed', deltas.length)
    for (const batch of chunked(deltas)) await this.#strategy.commit(batch, expired ? 'expired' : undefined)
  }

  #expire(bases: string[]): Promise<void> {
    return this.#destroy(bases, true)
  }

  #applyLocal(delta: Delta, expired = false): void {
    this.#emit(this.#table.apply(delta), false, expired)
  }

  versionToken(id: string): string | undefined {
    if (this.#s.replication !== 'async') return undefined
    const parsed = sessionKeyOf(id)
    const record = parsed && this.#table.get(parsed.key)
    return record ? encodeVersionToken(versionOf(record)) : undefined
  }

  /**
   * Async read-your-writes: make the local copy at least as new as the client's token. Wait briefly for the change
   * already on its way, then fetch from the nodes that wrote it (every member if none of them is one). Serves what it
   * has after that: a writer that died before its change left took the change with it (async's durability limit).
   */
  async #catchUpTo(base: string, text: string): Promise<void> {
    const { metrics, membership } = this.#p
    const token = parseVersionToken(text)
    if (!token) {
      metrics.increment('tokens.malformed')
      return
    }
    if (covers(this.#table.get(base), token)) return
    metrics.increment('tokens.behind')
    if (await this.#waitForVersion(base, token)) {
      metrics.cluster.tokenWaits['caught-up'].inc()
      return
    }
    const writers = token.map(([node]) => node).filter((node) => membership.member(node) !== undefined)
    metrics.increment('tokens.fetches')
    await this.#strategy.fetchSession(base, writers.length > 0 ? writers : undefined)
    if (covers(this.#table.get(base), token)) metrics.cluster.tokenWaits.fetched.inc()
    else {
      metrics.increment('tokens.still-behind')
      metrics.cluster.tokenWaits['still-behind'].inc()
    }
  }

  /** Resolves true once replication brings the record up to `token`, false after tokenWaitMs. */
  #waitForVersion(base: string, token: VersionToken): Promise<boolean> {
    return new Promise((resolve) => {
      let waiters = this.#versionWaiters.get(base)
      if (!waiters) this.#versionWaiters.set(base, (waiters = new Set()))
      const set = waiters
      const done = (caughtUp: boolean) => {
        timer.cancel()
        set.delete(check)
        if (set.size === 0) this.#versionWaiters.delete(base)
        resolve(caughtUp)
      }
      const check = () => {
        if (covers(this.#table.get(base), token)) done(true)
      }
      const timer = this.#p.clock.setTimeout(() => done(false), this.#s.tokenWaitMs)
      set.add(check)
    })
  }

  #applyRemote(deltas: Delta[], expired: boolean): void {
    // Local writes must order after what we have seen (HybridClock caps absurd peer clocks); observing the
    // highest stamp of the batch moves the clock exactly as observing every stamp would.
    let max: Stamp | undefined
    for (const delta of deltas) {
      const stamp = deltaMaxStamp(delta)
      if (stamp) max = max ? maxStamp(max, stamp) : stamp
    }
    if (max) this.#hlc.observe(max)
    const report = this.#reportsChanges()
    for (const delta of deltas) {
      const changes = this.#table.apply(delta, report)
      if (report) this.#emit(changes, true, expired)
      const waiters = this.#versionWaiters.get(delta.id)
      if (waiters) for (const check of [...waiters]) check()
    }
    this.#p.metrics.increment('replication.applied', deltas.length)
  }

  /** Whether anyone listens to session events: a state transfer then skips describing every change. */
  #reportsChanges(): boolean {
    const events = this.#events
    return events.hasListeners('created') || events.hasListeners('attributeChanged') || events.hasListeners('destroyed') || events.hasListeners('expired')
  }

  #emit(changes: SessionChange[], replicated: boolean, expired: boolean): void {
    for (const change of changes) {
      const event = eventFor(change, expired)
      // A state transfer reports ~10 changes per session: build only the events someone listens to.
      if (!event || !this.#events.hasListeners(event)) continue
      const record = this.#table.get(change.id)
      const id = sessionIdOf(change.id, record?.route.value || this.route)
      if (event === 'attributeChanged') {
        const { name } = change as { name: string }
        this.#events.emit(event, { id, replicated, name, removed: change.type === 'attribute-removed' })
      } else {
        this.#events.emit(event, { id, replicated })
      }
    }
  }
}

function eventFor(change: SessionChange, expired: boolean): 'created' | 'attributeChanged' | 'destroyed' | 'expired' | undefined {
  switch (change.type) {
    case 'created':
      return 'created'
    case 'attribute-set':
    case 'attribute-removed':
      return 'attributeChanged'
    case 'destroyed':
      return expired ? 'expired' : 'destroyed'
    default:
      return undefined
  }
}

/** Peers accept only whole milliseconds (zero or less: never expires, Tomcat's convention). */
function validMaxInactive(value: number): number {
  if (!Number.isSafeInteger(value)) {
    throw new InvalidParametersError(`maxInactiveMs must be a whole number of milliseconds, got ${String(value)}`)
  }
  return value
}
