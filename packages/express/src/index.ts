/**
 * @session-cluster/express: express-session sessions replicated in memory across Node processes.
 *
 * @example
 * import { clusterSession } from '@session-cluster/express'
 * app.use(clusterSession({ secret, cluster: { route: 'node1', port: 4000, members: ['10.0.0.2:4000'] } }))
 */
import './types.js'

export { ClusterStore } from './cluster-store.js'
export type { ClusterStoreOptions } from './cluster-store.js'
export { clusterStore } from './cluster-store-factory.js'
export { clusterSession } from './cluster-session.js'
export type { ClusterSessionMiddleware, ClusterSessionOptions } from './cluster-session.js'
export { DEFAULT_COOKIE_NAME, DEFAULT_STATIC_FILTER } from '@session-cluster/core'
export type { RebindMode, SessionCluster, SessionClusterInit, StaticFilterOption } from '@session-cluster/core'
export { healthRoutes, type HealthRoutes } from './health.js'
export type { HealthOptions } from '@session-cluster/core'
export { consoleLogger, type Logger, pinoLogger, silentLogger } from '@session-cluster/core'
