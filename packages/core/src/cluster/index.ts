export type {
  ClusterStatus,
  LoadedSession,
  LoadOptions,
  ReplicationManager,
  ReplicationMode,
  SaveOptions,
  SessionCluster,
  SessionClusterEvents,
  SessionData,
  SessionEventInfo,
  SessionMeta,
} from './session-cluster.js'
export { CLUSTER_DEFAULTS } from './options.js'
export { createSessionCluster } from './create-session-cluster.js'
export type { SessionClusterInit } from './options.js'
