import { describe, expect, it } from 'vitest'
import { ownersOf } from '../src/replication/backup/placement.js'
import { memorySessionClusters } from './support/session-cluster.js'

/*
 * Review of the backup manager (integration of review-backup-relocation-race): a member joins and takes the backup
 * role of a session from B. B pushes its copy to the new owners and evicts it when they answer. A writer W that does
 * not know the joiner yet (its link to the joiner is down) commits to {primary, B}; its write lands on B while B's push
 * is in flight, both acknowledge, B evicts. The write is now on the primary only; when the primary dies, the new
 * owners (the joiner and B) do not have it. One failure (the primary), one broken link (W to the joiner).
 */
describe('review: backup manager, a join and a write from a member that has not seen it yet', () => {
  it('a write acknowledged by the old owners survives the primary dying after the join', async () => {
    const c = memorySessionClusters({ manager: 'backup', backups: 1, faults: { delayMs: [5, 5] } })
    try {
      await c.add(3)
      const { nodes, network, clock } = c
      const routes = (n: number) => Array.from({ length: n }, (_, i) => ({ id: String(i), route: `node${i + 1}` }))
      let id = ''
      let b = -1
      for (let i = 0; i < 200 && b < 0; i++) {
        const candidate = nodes[0]!.generateId()
        const key = candidate.slice(0, candidate.lastIndexOf('.'))
        const before = ownersOf(key, 'node1', routes(3), 1).map((m) => Number(m.id))
        const after = ownersOf(key, 'node1', routes(4), 1).map((m) => Number(m.id))
        if (after[1] === 3) [id, b] = [candidate, before[1]!]
      }
      expect(b).toBeGreaterThan(0)
      const w = b === 1 ? 2 : 1
      await c.run(nodes[0]!.save(id, { n: 1 }))
      const loaded = (await c.run(nodes[w]!.load(id)))!

      // The joiner (index 3, port 6003) cannot reach W, nor W it: W keeps placing the session on {primary, B}.
      const joiner = { host: '127.0.0.1', port: 6003 }
      network.cut(nodes[w]!.local.address, joiner)
      network.cut(joiner, nodes[w]!.local.address)
      const adding = c.add(1).then(() => 'ready', (e: Error) => e.message)
      const pushes = () => nodes[b]!.status().counters['channel.sent.bk-push'] ?? 0
      expect(await clock.advanceUntil(() => pushes() > 0, { stepMs: 1, maxMs: 120_000 })).toBe(true)
      // B's push is on its way; W's write reaches B before the answer.
      await c.run(nodes[w]!.save(id, { n: 2 }, { loaded }))
      await clock.advance(1_000)
      // (Before the fix B evicted its copy here, with W's write the new owners lacked; it now keeps it for the next push.)

      await c.kill(0)
      await clock.advance(20_000)
      const read = (await c.run(nodes[b]!.load(id)))?.data
      // (The joiner, which never hears from W, is ready once its start-up transfer times out.)
      await clock.advance(70_000)
      expect(await adding).toBe('ready')
      expect(read).toEqual({ n: 2 })
    } finally {
      await c.stopAll()
    }
  })
})
