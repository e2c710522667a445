import { afterEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../src/clock/manual-clock.js'
import { createSessionCluster } from '../src/cluster/create-session-cluster.js'
import type { SessionClusterInit } from '../src/cluster/options.js'
import type { SessionCluster } from '../src/cluster/session-cluster.js'
import { ReplicationMismatchError } from '../src/errors.js'
import { silentLogger } from '../src/logger.js'
import { MemoryNetwork } from '../src/transport/memory/memory-network.js'
import { memoryTransport } from '../src/transport/memory/memory-transport.js'

// Members must replicate alike: all-to-all and primary/backup nodes (or backup nodes keeping different numbers of
// copies) would not understand each other's replication. Heartbeats carry each node's plan; a node that announces
// another is never admitted, and a node that finds no member like itself fails its start with a named error
// instead of running as a cluster of one.

let stopAll: () => Promise<void> = async () => {}
afterEach(async () => {
  await stopAll()
  stopAll = async () => {}
})

type Plan = Pick<SessionClusterInit, 'manager' | 'backups'>

async function startThree(plans: [Plan, Plan, Plan]) {
  const clock = new ManualClock()
  const network = new MemoryNetwork({ clock })
  const members = [0, 1, 2].map((i) => `127.0.0.1:${7100 + i}`)
  const errors: string[] = []
  const logger = { ...silentLogger, error: (msg: string, fields?: Record<string, unknown>) => errors.push(`${msg} ${JSON.stringify(fields)}`) }
  const nodes: SessionCluster[] = plans.map((plan, i) =>
    createSessionCluster({ route: `m${i + 1}`, ...plan, transport: memoryTransport({ network, port: 7100 + i }), members, clock: clock.skewed(), logger }),
  )
  const run = async <T>(p: Promise<T>): Promise<T> => {
    let done = false
    void p.finally(() => (done = true)).catch(() => {})
    await clock.advanceUntil(() => done, { stepMs: 10, maxMs: 60_000 })
    return p
  }
  stopAll = async () => {
    for (const n of nodes) await run(n.stop()).catch(() => {})
  }
  const outcomes = await run(Promise.all(nodes.map((n) => n.start().then(() => 'started', (e: Error) => e))))
  await clock.advance(3_000)
  return { nodes, outcomes, errors }
}

describe('members that replicate differently', () => {
  it('a backup-manager node configured with two all-to-all nodes fails its start with ReplicationMismatchError; the two keep each other only', async () => {
    const { nodes, outcomes, errors } = await startThree([{ manager: 'delta' }, { manager: 'delta' }, { manager: 'backup' }])
    expect(outcomes[0]).toBe('started')
    expect(outcomes[1]).toBe('started')
    expect(outcomes[2]).toBeInstanceOf(ReplicationMismatchError)
    expect((outcomes[2] as Error).message).toMatch(/this node does \(backup\/1\): 127\.0\.0\.1:710[01] runs delta/)
    expect(nodes[0]!.status().members.map((m) => m.route)).toEqual(['m2'])
    expect(nodes[1]!.status().members.map((m) => m.route)).toEqual(['m1'])
    expect(nodes[0]!.status().counters['membership.rejected.plan']).toBeGreaterThan(0)
    expect(errors.some((e) => e.startsWith('a node replicates differently and is not admitted') && e.includes('"theirs":"backup/1"'))).toBe(true)
  })

  it('backup nodes keeping a different number of copies do not mix either', async () => {
    const { outcomes } = await startThree([
      { manager: 'backup', backups: 1 },
      { manager: 'backup', backups: 1 },
      { manager: 'backup', backups: 2 },
    ])
    expect(outcomes.slice(0, 2)).toEqual(['started', 'started'])
    expect(outcomes[2]).toBeInstanceOf(ReplicationMismatchError)
  })

  it('nodes that agree form one cluster', async () => {
    const { nodes, outcomes } = await startThree([{ manager: 'backup' }, { manager: 'backup', backups: 1 }, { manager: 'backup' }])
    expect(outcomes).toEqual(['started', 'started', 'started'])
    for (const n of nodes) expect(n.status().members).toHaveLength(2)
  })
})
