// Found by review of the tombstone confirmation (purge only once every member holds it): each failed before its fix.
import { afterEach, expect, it } from 'vitest'
import type { SessionCluster } from '../src/cluster/session-cluster.js'
import { memorySessionClusters } from './support/session-cluster.js'

let cleanup: (() => Promise<void>) | undefined
afterEach(async () => { await cleanup?.(); cleanup = undefined })

for (const [n, ae, offset] of [[4, 30_000, 2_500], [4, 30_000, 1_000], [5, 30_000, 2_000], [3, 5_000, 3_300]] as const) {
  it(`tombstones are purged everywhere and do not bounce back: ${n} nodes, AE ${ae}, phase offset ${offset}`, async () => {
    const c = memorySessionClusters({ tombstoneRetentionMs: 60_000, antiEntropyIntervalMs: ae })
    cleanup = c.stopAll
    await c.add(1)
    for (let i = 1; i < n; i++) { await c.clock.advance(offset); await c.add(1) }
    const a = c.nodes[0] as SessionCluster
    const ids: string[] = []
    for (let i = 0; i < 50; i++) { const id = a.generateId(); ids.push(id); await c.run(a.save(id, { i })) }
    await c.clock.advance(5_000)
    for (const id of ids) await c.run(a.destroy(id))
    const samples: string[] = []
    for (let t = 0; t < 40; t++) {
      await c.clock.advance(30_000)
      samples.push(c.nodes.map((x) => x.status().tombstones).join('/'))
    }
    for (const x of c.nodes) expect(x.status().tombstones).toBe(0)
  }, 120_000)
}
