/**
 * @session-cluster/fastify: @fastify/session sessions replicated in memory across Node processes.
 *
 * @example
 * import clusterSession from '@session-cluster/fastify'
 * await fastify.register(clusterSession, { secret, cluster: { route: 'node1', port: 4000, members: ['10.0.0.2:4000'] } })
 */
import './types.js'
import { clusterSession } from './plugin.js'

export { clusterSession, DEFAULT_COOKIE_PREFIX, PLUGIN_NAME } from './plugin.js'
export type { ClusterSessionOptions, CookieOptions } from './plugin.js'
export { ClusterStore } from './cluster-store.js'
export type { ClusterStoreOptions, StoredSession } from './cluster-store.js'
export { clusterStore } from './cluster-store-factory.js'
export { AlreadyRegisteredError } from './errors.js'
export { pinoLogger } from './logger.js'
export { DEFAULT_COOKIE_NAME, DEFAULT_STATIC_FILTER } from '@session-cluster/core'
export type { RebindMode, SessionCluster, SessionClusterInit, StaticFilterOption } from '@session-cluster/core'
export default clusterSession
export { healthRoutes, type HealthRoutesOptions } from './health.js'
