import type { Delta } from '../session/index.js'
import type { StateTransferOutcome } from './state-transfer.js'

/**
 * Where sessions live and how a change reaches them: the seam between the cluster node (sessions, stamps,
 * events, the public API) and a replication strategy. All-to-all (Tomcat's DeltaManager) is `all-to-all/`;
 * a primary/backup strategy is another folder behind the same contract.
 */
export interface ReplicationStrategy {
  readonly name: 'delta' | 'backup'
  /**
   * Whether every node holds every session, kept up to date by every change (all-to-all). When not, a copy held
   * here may be a cache of an earlier fetch that later writes elsewhere did not reach.
   */
  readonly holdsEverySession: boolean
  /** Join: take part in replication and pull the state this node should hold. Resolves how that went. */
  start(signal: AbortSignal): Promise<StateTransferOutcome>
  stop(): Promise<void>
  /**
   * Send a local commit (already applied here) to where it must go. In `sync` mode resolves once every
   * member that must hold it and is in step applied it; in `async` mode at once.
   */
  commit(deltas: Delta[], why?: 'expired'): Promise<void>
  /**
   * Before a read serves session `base` from local state: make sure that state holds every acknowledged
   * change (fetch it first where it may not), or reject with StaleReplicaError. Returns undefined when local
   * state can be served at once, the common case: every read passes here, so that answer costs no promise.
   * `route` is the one the request's session id names (where to look when this node holds no copy).
   */
  beforeRead(base: string, route?: string): Promise<void> | undefined
  /** Merge the copies of session `base` held by these members (all alive members when omitted); failures are skipped. */
  fetchSession(base: string, memberIds?: readonly string[]): Promise<void>
  /** Whether this node expires session `base`, bound to `route` (exactly one live node should). */
  expiresHere(route: string, base: string): boolean
  /**
   * Tombstones that arrived here at or before this table position (`SessionTable.changeSeq`) are held wherever
   * the session may still live, so purging them cannot bring the session back.
   */
  tombstonesConfirmedThrough(): number
  /** Strategy-specific status (per-member streams, anti-entropy...). */
  status(): Record<string, unknown>
}
