import { createSessionCluster, type SessionClusterInit } from '@session-cluster/core'
import { ClusterStore } from './cluster-store.js'

/**
 * A ClusterStore with a cluster of its own, in one call, for an express-session setup you keep (as with
 * connect-redis): the cluster is created from `options` (validated now), started at once, and stopped by
 * `store.close()`. Operations wait until it is ready; `store.ready` says when. Any session id works, so
 * express-session's default ids are fine; route binding (`<random>.<route>` ids) is `clusterSession()`'s.
 *
 * @example
 * const store = clusterStore({ route: 'node1', port: 4000, members: ['10.0.0.2:4000'], secret })
 * app.use(session({ store, secret: cookieSecret, resave: false, saveUninitialized: false }))
 * process.on('SIGTERM', () => store.close())
 */
export function clusterStore(options: SessionClusterInit): ClusterStore {
  return new ClusterStore(createSessionCluster(options), { stopClusterOnClose: true })
}
