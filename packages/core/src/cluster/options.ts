import type { Clock } from '../clock/clock.js'
import type { Logger } from '../logger.js'
import type { Address } from '../member.js'
import type { DiscoveryOption } from '../membership/discovery-option.js'
import type { Transport } from '../transport/transport.js'
import type { ReplicationManager, ReplicationMode } from './session-cluster.js'

/** Options of `createSessionCluster`. Milliseconds everywhere; every default is a named constant below. */
export interface SessionClusterInit {
  /** This node's route: the session-id suffix a sticky balancer routes on. `[A-Za-z0-9_-]{1,32}` */
  route: string
  /** Address the cluster transport listens on and advertises. @default '127.0.0.1' */
  host?: string
  /** Cluster TCP port; 0 picks a free one. @default 4000 */
  port?: number
  /** Address peers should use when it differs from `host` (e.g. listening on 0.0.0.0). @default host */
  advertiseHost?: string
  /** `host:port` of the other nodes; this node's own entry is ignored. @default [] */
  members?: ReadonlyArray<string | Address>
  /**
   * Where members come from: `{ kind: 'static' }` (the `members` list), `{ kind: 'local' }` (workers on one host,
   * each on the first free port of `port`..`port + autoBind`), `{ kind: 'dns', name }` (a Kubernetes headless
   * service), `{ kind: 'multicast' }` (Tomcat's 228.0.0.4:45564), or a `Discovery` of your own. @default { kind: 'static' }
   */
  discovery?: DiscoveryOption
  /**
   * Ports above `port` to try when it is taken (Tomcat's autoBind); local discovery probes the same range.
   * @default 0, or 100 with local discovery (ports 4000-4100)
   */
  autoBind?: number
  /**
   * Shared secret: frames are encrypted and authenticated (AES-256-GCM, key derived with scrypt). Required off
   * loopback. Several during a rotation: the first one seals, any of them opens; roll `[old, new]` to every node,
   * then `[new, old]`, then `[new]`.
   */
  secret?: string | string[]
  /** Bound into every frame: clusters with different names cannot talk. @default 'session-cluster' */
  clusterName?: string
  /** Allow a non-loopback address without a secret (logged loudly). @default false */
  insecure?: boolean
  /** @default 'sync' */
  replication?: ReplicationMode
  /**
   * Where sessions live: `'delta'` (every node holds every session, Tomcat's DeltaManager) or `'backup'` (each
   * session on its primary, the node its route names, plus `backups` copies: Tomcat's BackupManager, for larger
   * clusters). @default 'delta'
   */
  manager?: ReplicationManager
  /** `manager: 'backup'`: copies of each session besides its primary's. @default 1 */
  backups?: number
  /** How long a sync save waits for a member to apply a change before suspecting it. @default 2000 */
  ackTimeoutMs?: number
  /**
   * Async mode: how long a read whose version token is newer than this node's copy waits for the change to arrive
   * before it fetches the session from the node that wrote it. @default 50
   */
  tokenWaitMs?: number
  /** How long a starting node waits for state transfer before serving without it. @default 60000 */
  stateTransferTimeoutMs?: number
  /** Size of one state-transfer chunk (memory stays bounded on both sides). @default 262144 */
  stateTransferChunkBytes?: number
  /**
   * State transfers this node serves at once, to all joiners together; a joiner beyond it is refused for now and asks
   * another member (transfers a requester abandoned make room after 5 s, as do those of requesters that are not
   * members when a member asks). @default 4
   */
  maxStateTransfers?: number
  /** State transfers served at once to one peer; a newer one from it replaces its older one. @default 1 */
  maxStateTransfersPerPeer?: number
  /**
   * Estimated bytes of session records the snapshots of open state transfers may hold on to (a snapshot keeps
   * records alive after the table let them go); one transfer may always start, however large. @default 268435456
   */
  maxStateTransferSnapshotBytes?: number
  /** State transfers one peer may start per minute (a burst of half of it after a quiet spell). @default 6 */
  stateTransfersPerMinute?: number
  /** Anti-entropy digest comparisons one peer may ask for per second (a burst of twice that). @default 10 */
  antiEntropyRequestsPerSecond?: number
  /**
   * Session records one peer's requests may make this node look up, merge or encode per second (anti-entropy repairs,
   * fetches before a read, expiry checks; a burst of twice that). @default 50000
   */
  peerRecordsPerSecond?: number
  /** Idle time for sessions saved without one (express cookies without maxAge). @default 86400000 (24 h) */
  defaultMaxInactiveMs?: number
  /** How often coalesced access times are sent to peers. @default 5000 */
  accessFlushIntervalMs?: number
  /** How often expired sessions are swept. @default 10000 */
  expiryIntervalMs?: number
  /**
   * How long destroyed sessions are remembered. Late messages cannot resurrect them meanwhile, and a member out
   * of touch for longer (a long partition) cannot either: anti-entropy then refuses its older sessions.
   * @default 600000
   */
  tombstoneRetentionMs?: number
  /** How often this node compares its sessions with the next member's (anti-entropy). @default 30000 */
  antiEntropyIntervalMs?: number
  /** Bytes of replication a member has not acknowledged that are kept for resending; beyond it, anti-entropy repairs. @default 16777216 */
  maxUnackedBytes?: number
  /** Sessions this node holds (replicas included, as in Tomcat's DeltaManager) before it refuses to create more. @default Infinity */
  maxSessions?: number
  /** Largest encoded session accepted. @default 1048576 */
  maxSessionBytes?: number
  /** Largest frame accepted from a peer, checked before decoding. @default 16777216 */
  maxFrameBytes?: number
  /**
   * An inbound cluster connection that has not authenticated (sent its hello) within this is closed: a peer does at
   * once, so this only bounds how long a socket that never will holds its place. At most 60000. @default 3000
   */
  helloTimeoutMs?: number
  /**
   * Inbound connections waiting for their hello, at most; beyond it the newest is let in and the oldest of the
   * source with the most waiting is closed, so sockets held open by others cannot keep a peer out. @default 128
   */
  maxPendingConnections?: number
  /** Of those, at most this many from one source (an IPv4 address, an IPv6 /64); beyond it, its oldest is closed. @default 16 */
  maxPendingConnectionsPerSource?: number
  /** Membership heartbeat period. @default 500 */
  heartbeatIntervalMs?: number
  /** Silence after which a member is suspected and verified. @default 3000 */
  suspectTimeoutMs?: number
  /** Time a suspect has to answer a direct ping before removal. @default 1000 */
  verifyTimeoutMs?: number
  /** Use this transport instead of TCP (the in-memory one in tests); host, port and secret are then ignored. */
  transport?: Transport
  /** @default systemClock */
  clock?: Clock
  /**
   * Where the node logs (`consoleLogger()`, or a pino logger through `pinoLogger(pino)`); a line that repeats is
   * written once per 10 s with a count. @default silentLogger: a library says nothing unless asked
   */
  logger?: Logger
}

/**
 * How `createSessionCluster` checks an option:
 * - `positive`: a finite number above 0 (milliseconds, bytes, counts) that replaces its default in CLUSTER_DEFAULTS;
 * - `unlimited`: the same, and Infinity allowed;
 * - `own`: checked by its own rule where it is used (route, host, port, secret...).
 */
export type ClusterOptionKind = 'positive' | 'unlimited' | 'own'

/** How a node replicates, as members compare it (heartbeats): its manager and, for 'backup', its copies. */
export function replicationPlan(settings: { manager: 'delta' | 'backup'; backups: number }): string {
  return settings.manager === 'backup' ? `backup/${settings.backups}` : settings.manager
}

/**
 * Every option of SessionClusterInit and its kind: the one list of option names. An option added to the interface
 * but not here, or named here but not there, fails to compile; unknown names (`memebrs`) are refused with the
 * closest one of these, and every `positive` or `unlimited` option must have a default in CLUSTER_DEFAULTS.
 */
export const CLUSTER_OPTION_KINDS = {
  route: 'own',
  host: 'own',
  port: 'own',
  advertiseHost: 'own',
  members: 'own',
  discovery: 'own',
  autoBind: 'own',
  secret: 'own',
  clusterName: 'own',
  insecure: 'own',
  replication: 'own',
  manager: 'own',
  backups: 'own',
  ackTimeoutMs: 'positive',
  stateTransferTimeoutMs: 'positive',
  stateTransferChunkBytes: 'positive',
  maxStateTransfers: 'positive',
  maxStateTransfersPerPeer: 'positive',
  maxStateTransferSnapshotBytes: 'positive',
  stateTransfersPerMinute: 'positive',
  antiEntropyRequestsPerSecond: 'positive',
  peerRecordsPerSecond: 'positive',
  defaultMaxInactiveMs: 'positive',
  accessFlushIntervalMs: 'positive',
  expiryIntervalMs: 'positive',
  tombstoneRetentionMs: 'positive',
  antiEntropyIntervalMs: 'positive',
  maxUnackedBytes: 'positive',
  tokenWaitMs: 'positive',
  maxSessions: 'unlimited',
  maxSessionBytes: 'positive',
  maxFrameBytes: 'positive',
  helloTimeoutMs: 'positive',
  maxPendingConnections: 'positive',
  maxPendingConnectionsPerSource: 'positive',
  heartbeatIntervalMs: 'positive',
  suspectTimeoutMs: 'positive',
  verifyTimeoutMs: 'positive',
  transport: 'own',
  clock: 'own',
  logger: 'own',
} as const satisfies Record<keyof SessionClusterInit, ClusterOptionKind>

/** Options given as a number that replaces a default (`positive` and `unlimited`). */
export type NumericClusterOption = {
  [K in keyof typeof CLUSTER_OPTION_KINDS]: (typeof CLUSTER_OPTION_KINDS)[K] extends 'own' ? never : K
}[keyof typeof CLUSTER_OPTION_KINDS]

export const CLUSTER_OPTION_NAMES: ReadonlySet<string> = new Set(Object.keys(CLUSTER_OPTION_KINDS))

/** The numeric options, each with its kind. */
export const NUMERIC_CLUSTER_OPTIONS = Object.entries(CLUSTER_OPTION_KINDS).filter(([, kind]) => kind !== 'own') as Array<
  [NumericClusterOption, 'positive' | 'unlimited']
>

export const CLUSTER_DEFAULTS = {
  host: '127.0.0.1',
  port: 4000,
  clusterName: 'session-cluster',
  replication: 'sync' as ReplicationMode,
  manager: 'delta' as ReplicationManager,
  backups: 1,
  ackTimeoutMs: 2_000,
  tokenWaitMs: 50,
  stateTransferTimeoutMs: 60_000,
  stateTransferChunkBytes: 256 * 1024,
  maxStateTransfers: 4,
  maxStateTransfersPerPeer: 1,
  maxStateTransferSnapshotBytes: 256 * 1024 * 1024,
  stateTransfersPerMinute: 6,
  antiEntropyRequestsPerSecond: 10,
  peerRecordsPerSecond: 50_000,
  defaultMaxInactiveMs: 24 * 60 * 60 * 1000,
  accessFlushIntervalMs: 5_000,
  expiryIntervalMs: 10_000,
  tombstoneRetentionMs: 10 * 60 * 1000,
  antiEntropyIntervalMs: 30_000,
  maxUnackedBytes: 16 * 1024 * 1024,
  maxSessions: Number.POSITIVE_INFINITY,
  maxSessionBytes: 1024 * 1024,
  maxFrameBytes: 16 * 1024 * 1024,
  helloTimeoutMs: 3_000,
  maxPendingConnections: 128,
  maxPendingConnectionsPerSource: 16,
  heartbeatIntervalMs: 500,
  suspectTimeoutMs: 3_000,
  verifyTimeoutMs: 1_000,
} as const

// Every numeric option has a default: one without fails to compile here.
type EveryNumericOptionHasDefault<Missing extends never> = Missing
export type NumericClusterOptionWithoutDefault = EveryNumericOptionHasDefault<Exclude<NumericClusterOption, keyof typeof CLUSTER_DEFAULTS>>
