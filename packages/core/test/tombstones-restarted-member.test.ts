// Found by review of the tombstone confirmation (purge only once every member holds it): each failed before its fix.
import { afterEach, expect, it } from 'vitest'
import type { SessionCluster } from '../src/cluster/session-cluster.js'
import { memorySessionClusters } from './support/session-cluster.js'

let cleanup: (() => Promise<void>) | undefined
afterEach(async () => { await cleanup?.(); cleanup = undefined })

it('a member removed as failed and restarted as a new process at its address does not hold tombstones back', async () => {
  const c = memorySessionClusters({ tombstoneRetentionMs: 60_000, heartbeatIntervalMs: 200, suspectTimeoutMs: 1_200, verifyTimeoutMs: 400 })
  cleanup = c.stopAll
  await c.add(3)
  const [a, , third] = c.nodes as [SessionCluster, SessionCluster, SessionCluster]
  const _oldId = third.local.id
  c.network.pause(third.local.address) // hung (SIGSTOP, VM freeze): removed as failed
  await c.clock.advance(5_000)
  await c.kill(2)
  c.network.heal()
  const _fresh = await c.restart(2)
  await c.clock.advance(5_000)
  const id = a.generateId()
  await c.run(a.save(id, { u: 1 }))
  await c.run(a.destroy(id))
  // Retention is a minute: ten are plenty once the old incarnation no longer holds the tombstone back (24 h before).
  for (let m = 0; m < 10; m++) await c.clock.advance(60_000)
  expect(a.status().tombstones).toBe(0)
}, 300_000)
