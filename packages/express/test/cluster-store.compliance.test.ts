import { createSessionCluster, type SessionCluster, silentLogger } from '@session-cluster/core'
import { afterAll } from 'vitest'
import { ClusterStore } from '../src/index.js'
import { storeComplianceSuite } from './store-compliance.js'

// One node on loopback TCP, started once (a start waits ~1 s to discover peers); each test gets a fresh
// store over it and clears it afterwards.
let cluster: SessionCluster | undefined
afterAll(() => cluster?.stop())

storeComplianceSuite('ClusterStore (one node, loopback TCP)', async () => {
  cluster ??= createSessionCluster({ route: 'solo', port: 0, expiryIntervalMs: 100, accessFlushIntervalMs: 100, logger: silentLogger })
  await cluster.start()
  const c = cluster
  return {
    store: new ClusterStore(c),
    newId: () => c.generateId(),
    promises: true,
    expiryWithinMs: 5000,
    close: () => c.clear(),
  }
})
