import { ClusterError } from '@session-cluster/core'

/**
 * The plugin was registered twice on one instance, or next to a separately registered @fastify/session:
 * one instance has one session plugin. Matched by `name`, like every error of this library.
 */
export class AlreadyRegisteredError extends ClusterError {
  override name = 'AlreadyRegisteredError'
  override readonly code = 'ERR_ALREADY_REGISTERED'
}
