import { clusterHealth, type HealthOptions, type SessionCluster } from '@session-cluster/core'
import type { FastifyInstance } from 'fastify'

export interface HealthRoutesOptions extends HealthOptions {
  /** The node to report on. @default the `fastify.cluster` the session plugin decorates (looked up per request) */
  cluster?: SessionCluster
  /** @default '/health/ready' */
  readyPath?: string
  /** @default '/health/live' */
  livePath?: string
}

/**
 * Readiness and liveness routes (Kubernetes probes, a balancer's health check): `GET /health/ready` answers 200
 * once the node joined, finished state transfer and is not shut out by its peers, 503 with reasons before;
 * `GET /health/live` answers 200 while the event loop turns. Register it in a scope without the session plugin's
 * hooks (before it, or as a sibling), so a probe never loads or creates a session:
 *
 * @example
 * await app.register(healthRoutes)           // finds app.cluster at request time
 * await app.register(clusterSession, { ... })
 */
export async function healthRoutes(fastify: FastifyInstance, options: HealthRoutesOptions = {}): Promise<void> {
  const { cluster, readyPath = '/health/ready', livePath = '/health/live', ...healthOptions } = options
  const health = clusterHealth(cluster ?? (() => (fastify.hasDecorator('cluster') ? fastify.cluster : undefined)), healthOptions)
  fastify.addHook('onClose', async () => health.close())
  for (const [path, check] of [
    [readyPath, () => health.ready()],
    [livePath, () => health.live()],
  ] as const) {
    fastify.get(path, async (_request, reply) => {
      const answer = check()
      return reply.code(answer.status).header('cache-control', 'no-store').send(answer.body)
    })
  }
}
