import { StaleReplicaError } from '../../src/errors.js'
import type { SessionCluster } from '../../src/cluster/session-cluster.js'

/**
 * A real cluster whose reads fail, while `stale.on` is set, the way a node that lost touch with a member fails
 * them (StaleReplicaError): for the adapters' tests that such a read becomes an HTTP 503.
 */
export function staleWhenAsked(cluster: SessionCluster): { cluster: SessionCluster; stale: { on: boolean } } {
  const stale = { on: false }
  const proxy = new Proxy(cluster, {
    get(target, key) {
      if (key === 'load' && stale.on) {
        return async () => {
          throw new StaleReplicaError('cannot confirm session state with member node2 (test)')
        }
      }
      const value = Reflect.get(target, key)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  return { cluster: proxy, stale }
}
