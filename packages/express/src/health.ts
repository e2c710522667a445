import type { IncomingMessage, ServerResponse } from 'node:http'
import { type ClusterHealth, clusterHealth, type HealthAnswer, type HealthOptions, type SessionCluster } from '@session-cluster/core'

type Handler = (req: IncomingMessage, res: ServerResponse) => void

export interface HealthRoutes {
  /** `200 {"ok": true}` once the node joined, finished state transfer and is not shut out; `503` with reasons before. */
  ready: Handler
  /** `200` while the event loop turns; `503` when it was blocked longer than `maxEventLoopDelayMs`. */
  live: Handler
  /** Stop the event-loop ticker (on shutdown). */
  close(): void
}

/**
 * Readiness and liveness handlers for a node (Kubernetes probes, a balancer's health check). Mount them outside
 * the session middleware, so a probe never creates a session:
 *
 * @example
 * const health = healthRoutes(sessions.cluster)
 * app.get('/health/ready', health.ready)
 * app.get('/health/live', health.live)
 * app.use(sessions)
 */
export function healthRoutes(cluster: SessionCluster, options?: HealthOptions): HealthRoutes {
  const health: ClusterHealth = clusterHealth(cluster, options)
  const send = (res: ServerResponse, answer: HealthAnswer) => {
    res.statusCode = answer.status
    res.setHeader('content-type', 'application/json; charset=utf-8')
    res.setHeader('cache-control', 'no-store')
    res.end(JSON.stringify(answer.body))
  }
  return {
    ready: (_req, res) => send(res, health.ready()),
    live: (_req, res) => send(res, health.live()),
    close: () => health.close(),
  }
}
