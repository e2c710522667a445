import { createRequire } from 'node:module'
import { soloCluster } from '../../core/test/support/adapter-tests.js'
import { storeComplianceSuite } from '@session-cluster/core/testing'
import { ClusterStore } from '../src/index.js'

// The same store suite the Express ClusterStore runs. One node on loopback TCP, started once; each test
// gets a fresh store over it and clears it afterwards.
const solo = soloCluster()

storeComplianceSuite('Fastify ClusterStore (one node, loopback TCP)', async () => {
  const c = await solo()
  return {
    store: new ClusterStore(c),
    newId: () => c.generateId(),
    promises: true,
    expiryWithinMs: 5000,
    close: () => c.clear(),
  }
})

// Again, with what @fastify/session really hands to `set`: its Session object (a Cookie instance with
// Dates, methods on the prototype, internals under symbols).
const require = createRequire(import.meta.url)
const Session = require('@fastify/session/lib/session') as new (...args: unknown[]) => object
const signer = { sign: (v: string) => `${v}.sig`, unsign: (v: string) => ({ valid: true, renew: false, value: v }) }

storeComplianceSuite('Fastify ClusterStore, fed @fastify/session Session objects', async () => {
  const c = await solo()
  const store = new ClusterStore(c)
  return {
    store,
    newId: () => c.generateId(),
    wrap: (sid, data) => new Session(store, {}, () => sid, {}, signer, data, sid),
    promises: true,
    expiryWithinMs: 5000,
    close: () => c.clear(),
  }
})
