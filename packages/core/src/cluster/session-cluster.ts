import type { Member } from '../member.js'
import type { Metrics } from '../metrics.js'
import type { MemberInfo } from '../membership/membership.js'
import type { RebindMode } from '../valve/route-binding.js'

/**
 * `sync`: a save resolves once every member in step applied it (see the core README: read leases), and a node
 * that may have missed a change checks with its writer before serving a read. `async`: at once.
 */
export type ReplicationMode = 'sync' | 'async'
/** Where sessions live: on every node (`delta`) or on a primary and its backups (`backup`). */
export type ReplicationManager = 'delta' | 'backup'

/** Session data as the web framework sees it: top-level attributes with JSON values. */
export type SessionData = Record<string, unknown>

export interface SessionMeta {
  readonly createdAt: number
  /** The latest access any node has told us about. */
  readonly lastAccessedAt: number
  readonly maxInactiveMs: number
  /** The route the session is bound to (the suffix its cookie should carry). */
  readonly route: string
}

/**
 * A session as one request loaded it: `data` is the request's own copy (mutate it freely, in place too);
 * saving it later sends only what changed relative to this load.
 */
export interface LoadOptions {
  /**
   * Async mode: the version token the client sent (see `versionToken`). A malformed one is ignored (counted); one
   * newer than this node's copy costs at most `tokenWaitMs` and one fetch.
   */
  token?: string
}

export interface LoadedSession {
  /** The full id as requested (`<random>.<route>`). */
  readonly id: string
  readonly data: SessionData
  readonly meta: SessionMeta
}

export interface SaveOptions {
  /** What this request loaded; without it the save replaces the stored attributes (a plain store `set`). */
  loaded?: LoadedSession
  /** Idle time after which the session expires; @default the cluster's defaultMaxInactiveMs */
  maxInactiveMs?: number
}

export interface SessionEventInfo {
  /** Full id (`<random>.<route>`) at the time of the event. */
  id: string
  /** True when the change came from a peer (Tomcat's notifyListenersOnReplication), false when made here. */
  replicated: boolean
}

/** Listeners must not block. */
export interface SessionClusterEvents {
  created: (info: SessionEventInfo) => void
  destroyed: (info: SessionEventInfo) => void
  expired: (info: SessionEventInfo) => void
  attributeChanged: (info: SessionEventInfo & { name: string; removed: boolean }) => void
  memberJoined: (member: MemberInfo) => void
  memberLeft: (member: MemberInfo) => void
  /** State transfer finished (or timed out) and the node serves. */
  ready: () => void
}

/** Something an operator watches the cluster for, as `status().events` lists it (the last 50, oldest first). */
export interface ClusterEvent {
  /** Wall-clock ms. */
  at: number
  kind:
    | 'joined'
    | 'suspected'
    | 'recovered'
    | 'left'
    | 'removed'
    | 'replaced'
    | 'state-transfer-done'
    /** This node excluded the member from sync replication until it catches up (it did not acknowledge in time...). */
    | 'fenced'
    | 'rejected-wrong-secret'
    | 'rejected'
  /** The member concerned, when there is one. */
  route?: string
  address?: string
  /** The leave reason, the state transfer outcome, the refusal. */
  detail?: string
}

export interface ClusterStatus {
  route: string
  memberId: string
  address: string
  ready: boolean
  /** How startup went: still transferring, done, or gave up after stateTransferTimeoutMs. */
  stateTransfer: 'pending' | 'complete' | 'timed-out' | 'alone'
  replication: ReplicationMode
  manager: ReplicationManager
  members: Array<{ route: string; id: string; address: string; state: 'alive' | 'suspect'; ready: boolean }>
  /** Where members are looked for: `static`, `local`, `dns`, `multicast`, or a custom kind; the contacts it reports now. */
  discovery: { kind: string; contacts: string[]; settled: boolean }
  sessions: number
  tombstones: number
  /**
   * Peers this node refused recently for a reason an operator must fix (a wire protocol version it does not
   * speak), newest first: the reason and what the peer said of itself.
   */
  refusedPeers: Array<{ reason: string; detail: string }>
  /**
   * Peers that refuse this node's connections, e.g. `rejected by 10.0.0.2:4000: wrong secret or cluster name`.
   * While every peer refuses it and it has no member, the node is not ready.
   */
  rejectedBy: Array<{ address: string; reason: 'wrong-secret' | 'incompatible-version' | 'not-a-node'; message: string; detail: string }>
  /** What the replication strategy reports: per member, batches sent and acknowledged, whether commits wait for it, whether this node holds its read lease. */
  strategy: Record<string, unknown>
  /** Recent membership and start-up events, oldest first. */
  events: ClusterEvent[]
  /** Counters: messages sent/applied by type, ack timeouts, rejected frames, expiries... */
  counters: Record<string, number>
}

/**
 * The replicated session store that the Express and Fastify adapters sit on. Reads are local; every change
 * replicates to the other members with per-attribute stamps, so reordering, duplicates and concurrent
 * requests on different nodes converge.
 */
export interface SessionCluster {
  readonly local: Member
  readonly route: string
  readonly replication: ReplicationMode
  /** Counters, gauges and histograms of this node (see metrics-contract.ts; `@session-cluster/prometheus` exports them). */
  readonly metrics: Metrics
  /** True once state transfer finished (or timed out). */
  readonly ready: boolean
  /** Join the cluster; resolves when ready. Idempotent. */
  start(): Promise<void>
  /** Flush pending replication, leave the cluster, close everything. Idempotent. */
  stop(): Promise<void>
  whenReady(): Promise<void>
  /** A fresh id `<192 random bits base64url>.<local route>`. */
  generateId(): string
  /**
   * Undefined for unknown, destroyed, expired or malformed ids. In sync mode, when this node may have missed a
   * change (no read lease from some member), the session is fetched from that member first, or the load rejects
   * with StaleReplicaError (503).
   */
  load(id: string, options?: LoadOptions): Promise<LoadedSession | undefined>
  /**
   * Async mode: the session's version token, for the client to send back with its next request (`load`'s `token`):
   * a node whose copy is older then waits for the change or fetches it, so a user never reads older data than
   * it has seen (read-your-writes, monotonic reads). Undefined for an unknown session or in sync mode (where every
   * read already sees every acknowledged write).
   */
  versionToken(id: string): string | undefined
  /**
   * Create or update; replicates only what changed since `loaded`. In sync mode resolves once the members in step
   * applied it; rejects with StaleReplicaError (503) when members may be alive but none holds the change.
   */
  save(id: string, data: SessionData, options?: SaveOptions): Promise<void>
  /** Record an access (cheap: local, replicated coalesced). */
  touch(id: string, options?: { maxInactiveMs?: number }): void
  destroy(id: string): Promise<void>
  /**
   * The id the response should carry: the session's current route, or this node's route when
   * the route's node is gone and `mode` allows rebinding (JvmRouteBinderValve).
   */
  routeFor(id: string, mode: RebindMode): string
  isRouteLive(route: string): boolean
  meta(id: string): SessionMeta | undefined
  /** Full ids of the live sessions this node holds. */
  ids(): string[]
  readonly size: number
  /** Destroy every session (replicated). */
  clear(): Promise<void>
  status(): ClusterStatus
  on<K extends keyof SessionClusterEvents>(event: K, listener: SessionClusterEvents[K]): () => void
}
