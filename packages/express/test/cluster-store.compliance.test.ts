import { soloCluster } from '../../core/test/support/adapter-tests.js'
import { ClusterStore } from '../src/index.js'
import { storeComplianceSuite } from '@session-cluster/core/testing'

// One node on loopback TCP, started once; each test gets a fresh store over it and clears it afterwards.
const solo = soloCluster()

storeComplianceSuite('ClusterStore (one node, loopback TCP)', async () => {
  const c = await solo()
  return {
    store: new ClusterStore(c),
    newId: () => c.generateId(),
    promises: true,
    expiryWithinMs: 5000,
    close: () => c.clear(),
  }
})
