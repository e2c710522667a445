// Typing: what the plugin adds to Fastify. Session attributes are typed the @fastify/session way:
//   declare module 'fastify' { interface Session { cart: string[] } }
import type { SessionCluster } from '@session-cluster/core'
import '@fastify/session'

declare module 'fastify' {
  interface FastifyInstance {
    /** The SessionCluster the sessions live in (status, meta, ids, events...). */
    cluster: SessionCluster
  }
  interface FastifyRequest {
    /** The session id the request arrived with, set only when the plugin rebound the session to this node. */
    sessionOriginalId: string | null
  }
}
