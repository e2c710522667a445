import type { SessionClusterInit } from '../../src/cluster/options.js'
import { silentLogger } from '../../src/logger.js'

/** Fast failure detection and expiry so adapter tests on real TCP finish quickly; everything else at its default. */
export const FAST_CLUSTER: Partial<SessionClusterInit> = {
  replication: 'sync',
  heartbeatIntervalMs: 100,
  suspectTimeoutMs: 600,
  verifyTimeoutMs: 300,
  ackTimeoutMs: 1000,
  stateTransferTimeoutMs: 5000,
  accessFlushIntervalMs: 100,
  expiryIntervalMs: 100,
  logger: silentLogger,
}
