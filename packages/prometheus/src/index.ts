/**
 * @session-cluster/prometheus: a session-cluster node's metrics in a prom-client registry.
 *
 * @example
 * import { Registry, collectDefaultMetrics } from 'prom-client'
 * const registry = new Registry()
 * collectDefaultMetrics({ register: registry })
 * registerClusterMetrics(sessions.cluster, { registry })
 * app.get('/metrics', async (_req, res) => res.type(registry.contentType).send(await registry.metrics()))
 */
export { registerClusterMetrics, type ClusterMetricsOptions, type MetricsSource, type PromRegistry } from './register.js'
