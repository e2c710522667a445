import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { Channel } from '../src/channel/channel.js'
import { createSessionCluster } from '../src/cluster/create-session-cluster.js'
import type { SessionCluster } from '../src/cluster/session-cluster.js'
import { aesGcmProtector } from '../src/crypto/index.js'
import { silentLogger } from '../src/logger.js'
import { tcpTransport } from '../src/transport/tcp/index.js'
import { memorySessionClusters } from './support/session-cluster.js'

const SECRET = 'state-transfer-flood-secret-0123456789'
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

type TransferStatus = { open: number; snapshotBytes: number }
const transfersOf = (node: SessionCluster) => (node.status().strategy as { stateTransfers: TransferStatus }).stateTransfers

describe('state transfers beyond what a node serves at once', () => {
  it('a joiner refused by a busy member (PeerBusyError) takes its transfer from another member', async () => {
    const c = memorySessionClusters({ maxStateTransfers: 1, stateTransferChunkBytes: 1024 })
    cleanups.push(c.stopAll)
    const sources = await c.add(2)
    const a = sources[0]!
    for (let i = 0; i < 300; i++) await a.save(a.generateId(), { i, pad: 'x'.repeat(100) })
    // Two joiners at once: both pick the same member (the longest running); it serves one and refuses the other for now.
    const joiners = await c.add(2)
    for (const joiner of joiners) expect(joiner.status()).toMatchObject({ stateTransfer: 'complete', sessions: 300 })
    const refused = sources.map((s) => s.status().counters['state-transfer.refused.concurrency'] ?? 0)
    expect(refused.reduce((x, y) => x + y)).toBeGreaterThanOrEqual(1)
    // ...and each source served one of them.
    for (const source of sources) expect(source.status().counters['state-transfer.served']).toBeGreaterThanOrEqual(1)
    const busy = joiners.map((j) => j.status().counters['state-transfer.source-busy'] ?? 0)
    expect(busy.some((n) => n > 0)).toBe(true)
    expect(joiners.every((j) => (j.status().counters['state-transfer.timeouts'] ?? 0) === 0)).toBe(true)
  })
})

describe('a state-transfer flood by a holder of the cluster key (real TCP, AES-GCM)', () => {
  // The table below holds about 700 KB of records (estimated): by default four transfers may be open at once; with a
  // snapshot limit of 1 MiB, one (and a second only if it fit).
  it.each([
    { bound: 'maxStateTransfers (4)', snapshotLimit: undefined, refusal: 'state-transfer.refused.concurrency' },
    { bound: 'maxStateTransferSnapshotBytes (1 MiB)', snapshotLimit: 1024 * 1024, refusal: 'state-transfer.refused.memory' },
  ])('bounded by $bound: transfers served and snapshot bytes held stay bounded, the rest are refused by name, and a joiner still completes', async ({
    snapshotLimit,
    refusal,
  }) => {
    const node = (route: string, host: string, members: string[] = []) => {
      const n = createSessionCluster({
        route,
        host,
        port: 0,
        members,
        secret: SECRET,
        logger: silentLogger,
        ...(snapshotLimit ? { maxStateTransferSnapshotBytes: snapshotLimit } : {}),
        stateTransferTimeoutMs: 20_000,
      })
      cleanups.push(() => n.stop())
      return n
    }
    const a = node('nodeA', '127.0.0.1')
    await a.start()
    for (let i = 0; i < 2_000; i++) await a.save(a.generateId(), { i, pad: 'x'.repeat(120) })

    // Six attacker identities (each a listening address of its own, as a peer has), each keeping transfers starting.
    const attackers = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const transport = tcpTransport({ port: 0, protector: aesGcmProtector({ secret: SECRET, clusterName: 'session-cluster' }) })
        const channel = new Channel({ transport, logger: silentLogger })
        await channel.start()
        cleanups.push(() => channel.stop())
        return channel
      }),
    )
    const outcomes = { started: 0, busy: 0, other: [] as string[] }
    let flooding = true
    const flood = attackers.map(async (channel) => {
      while (flooding) {
        // Start a transfer and never ask for its next chunk.
        const x = randomBytes(9).toString('base64url')
        try {
          await channel.request(a.local.address, { t: 'state-req', x, c: 0 }, { timeoutMs: 5_000 })
          outcomes.started++
        } catch (error) {
          if ((error as Error).name === 'PeerBusyError') outcomes.busy++
          else outcomes.other.push(String(error))
        }
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    })
    const samples: TransferStatus[] = []
    const sampler = setInterval(() => samples.push(transfersOf(a)), 5)
    const stopFlood = async () => {
      flooding = false
      clearInterval(sampler)
      await Promise.all(flood)
    }
    cleanups.push(stopFlood)
    // The flood is in full swing before the joiner starts.
    while (outcomes.started + outcomes.busy < 100) await new Promise((resolve) => setTimeout(resolve, 20))

    const b = node('nodeB', '127.0.0.2', [`127.0.0.1:${a.local.address.port}`])
    const t0 = performance.now()
    await b.start()
    const joinMs = performance.now() - t0
    expect(b.status()).toMatchObject({ ready: true, stateTransfer: 'complete', sessions: 2_000 })
    // A member's transfer takes the place of a non-member's: it did not wait out the flood.
    expect(joinMs).toBeLessThan(5_000)
    await stopFlood()

    const counters = a.status().counters
    const maxOpen = Math.max(...samples.map((t) => t.open))
    const oneSnapshot = Math.max(...samples.filter((t) => t.open === 1).map((t) => t.snapshotBytes))
    console.log('flood', outcomes, { maxOpen, oneSnapshot, joinMs }, Object.fromEntries(Object.entries(counters).filter(([k]) => /state-transfer|limits/.test(k))))
    // Every refusal reached the attacker as a PeerBusyError: nothing hung, nothing failed otherwise.
    expect(outcomes.other).toEqual([])
    expect(outcomes.busy).toBeGreaterThan(50)
    expect(counters[refusal] ?? 0).toBeGreaterThan(0)
    expect(counters['limits.refused.state-transfer'] ?? 0).toBeGreaterThan(0)
    expect(samples.length).toBeGreaterThan(20)
    expect(maxOpen).toBeLessThanOrEqual(4)
    for (const t of samples) {
      // Bytes held grow with transfers open, and only so far.
      expect(t.snapshotBytes).toBeLessThanOrEqual(t.open * oneSnapshot)
      if (snapshotLimit && t.open > 1) expect(t.snapshotBytes).toBeLessThanOrEqual(snapshotLimit)
    }
    if (!snapshotLimit) expect(maxOpen).toBe(4)
    else expect(maxOpen).toBeLessThanOrEqual(Math.max(1, Math.floor(snapshotLimit / oneSnapshot)))
  }, 60_000)
})
