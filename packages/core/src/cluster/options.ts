import type { Clock } from '../clock/clock.js'
import type { Logger } from '../logger.js'
import type { Address } from '../member.js'
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
  /** @default consoleLogger() for warnings and errors */
  logger?: Logger
}

/** Every option name, to refuse a typo (`memebrs`) instead of starting a node alone. */
const OPTION_NAMES = [
  'route',
  'host',
  'port',
  'advertiseHost',
  'members',
  'secret',
  'clusterName',
  'insecure',
  'replication',
  'manager',
  'backups',
  'ackTimeoutMs',
  'stateTransferTimeoutMs',
  'stateTransferChunkBytes',
  'maxStateTransfers',
  'maxStateTransfersPerPeer',
  'maxStateTransferSnapshotBytes',
  'stateTransfersPerMinute',
  'antiEntropyRequestsPerSecond',
  'peerRecordsPerSecond',
  'defaultMaxInactiveMs',
  'accessFlushIntervalMs',
  'expiryIntervalMs',
  'tombstoneRetentionMs',
  'antiEntropyIntervalMs',
  'maxUnackedBytes',
  'tokenWaitMs',
  'maxSessions',
  'maxSessionBytes',
  'maxFrameBytes',
  'helloTimeoutMs',
  'maxPendingConnections',
  'maxPendingConnectionsPerSource',
  'heartbeatIntervalMs',
  'suspectTimeoutMs',
  'verifyTimeoutMs',
  'transport',
  'clock',
  'logger',
] as const satisfies ReadonlyArray<keyof SessionClusterInit>

// OPTION_NAMES lists every option of SessionClusterInit: an option added there but not here fails to compile.
type EveryOptionListed<Unlisted extends never> = Unlisted
export type UnlistedClusterOption = EveryOptionListed<Exclude<keyof SessionClusterInit, (typeof OPTION_NAMES)[number]>>

export const CLUSTER_OPTION_NAMES: ReadonlySet<string> = new Set(OPTION_NAMES)

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
