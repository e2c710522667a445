import { afterEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../src/clock/manual-clock.js'
import { createSessionCluster } from '../src/cluster/create-session-cluster.js'
import type { SessionCluster } from '../src/cluster/session-cluster.js'
import { silentLogger } from '../src/logger.js'
import { MemoryNetwork } from '../src/transport/memory/memory-network.js'
import { memoryTransport } from '../src/transport/memory/memory-transport.js'

/*
 * Review of the backup manager: nothing checks that members agree on `manager` (nor on `backups`). A rolling change
 * from 'delta' to 'backup' (or one node misconfigured) gives a cluster where the two kinds do not understand each
 * other's replication (state transfer vs bk-pull, writes to every member vs to owners only). Expected here: either
 * the odd node refuses to join with a named error, or sessions written on either kind are read on the other.
 * Result: PASSES in this three-node setup (reads work both ways); no named error either. Kept as a probe.
 */
let stopAll: () => Promise<void> = async () => {}
afterEach(async () => {
  await stopAll()
  stopAll = async () => {}
})

describe('review: backup manager next to all-to-all members', () => {
  it('a backup-manager node joining delta-manager nodes: refused with a named error, or the sessions read both ways', async () => {
    const clock = new ManualClock()
    const network = new MemoryNetwork({ clock })
    const members = [0, 1, 2].map((i) => `127.0.0.1:${7100 + i}`)
    const make = (i: number, manager: 'delta' | 'backup') =>
      createSessionCluster({ route: `m${i + 1}`, manager, transport: memoryTransport({ network, port: 7100 + i }), members, clock: clock.skewed(), logger: silentLogger })
    const nodes = [make(0, 'delta'), make(1, 'delta'), make(2, 'backup')]
    stopAll = async () => {
      for (const n of nodes) await run(n.stop()).catch(() => {})
    }
    const starts = nodes.map((n) => n.start().then(() => 'ok', (e: Error) => e.name))
    const run = async <T>(p: Promise<T>): Promise<T> => {
      let done = false
      void p.finally(() => (done = true)).catch(() => {})
      await clock.advanceUntil(() => done, { stepMs: 10, maxMs: 60_000 })
      return p
    }
    const outcomes = await run(Promise.all(starts))
    if (outcomes[2] !== 'ok') return // refused at start: fine
    await clock.advance(5_000)
    const onDelta = nodes[0]!.generateId()
    await run(nodes[0]!.save(onDelta, { from: 'delta' }))
    const onBackup = nodes[2]!.generateId()
    await run(nodes[2]!.save(onBackup, { from: 'backup' }))
    await clock.advance(5_000)
    const read = async (n: SessionCluster, id: string) => run(n.load(id)).then((l) => l?.data, (e: Error) => e.name)
    expect({
      backupReadsDelta: await read(nodes[2]!, onDelta),
      delta1ReadsBackup: await read(nodes[0]!, onBackup),
      delta2ReadsBackup: await read(nodes[1]!, onBackup),
    }).toEqual({ backupReadsDelta: { from: 'delta' }, delta1ReadsBackup: { from: 'backup' }, delta2ReadsBackup: { from: 'backup' } })
  })
})
