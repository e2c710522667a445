import { afterEach, describe, expect, it } from 'vitest'
import { createSessionCluster } from '../src/cluster/create-session-cluster.js'
import { InsecureConfigurationError, InvalidParametersError } from '../src/errors.js'
import { silentLogger } from '../src/logger.js'
import { memoryTransport } from '../src/transport/memory/memory-transport.js'
import { memorySessionClusters } from './support/session-cluster.js'

let cleanup: () => Promise<void> = async () => {}
afterEach(() => cleanup())

describe('createSessionCluster options', () => {
  it.each([
    [{ route: 'has space' }, InvalidParametersError],
    [{ route: 'n1', port: 70_000 }, InvalidParametersError],
    [{ route: 'n1', members: ['not-an-address'] }, InvalidParametersError],
    [{ route: 'n1', replication: 'eventually' }, InvalidParametersError],
    [{ route: 'n1', ackTimeoutMs: -1 }, InvalidParametersError],
    [{ route: 'n1', secret: 'short' }, InvalidParametersError],
    [{ route: 'n1', maxSessionBytes: 16 * 1024 * 1024 }, InvalidParametersError],
    [{ route: 'n1', helloTimeoutMs: 0 }, InvalidParametersError],
    [{ route: 'n1', helloTimeoutMs: 120_000 }, InvalidParametersError],
    [{ route: 'n1', helloTimeoutMs: 1.5 }, InvalidParametersError],
    [{ route: 'n1', maxPendingConnections: -1 }, InvalidParametersError],
    [{ route: 'n1', maxPendingConnections: 8, maxPendingConnectionsPerSource: 16 }, InvalidParametersError],
    [{ route: 'n1', maxStateTransfers: 0 }, InvalidParametersError],
    [{ route: 'n1', maxStateTransfers: 2.5 }, InvalidParametersError],
    [{ route: 'n1', maxStateTransfers: 2, maxStateTransfersPerPeer: 3 }, InvalidParametersError],
    [{ route: 'n1', maxStateTransferSnapshotBytes: -1 }, InvalidParametersError],
    [{ route: 'n1', stateTransfersPerMinute: 0 }, InvalidParametersError],
    [{ route: 'n1', antiEntropyRequestsPerSecond: Number.NaN }, InvalidParametersError],
    [{ route: 'n1', peerRecordsPerSecond: '1000' }, InvalidParametersError],
    [{ route: 'n1', host: '10.1.2.3' }, InsecureConfigurationError],
    [{ route: 'n1', host: '127.0.0.1', advertiseHost: '192.168.1.5' }, InsecureConfigurationError],
  ])('refuses %j with a named error at construction', (options, error) => {
    expect(() => createSessionCluster(options as never)).toThrow(error)
  })

  it('accepts a non-loopback address with a secret, or with the explicit insecure opt-out', () => {
    expect(() => createSessionCluster({ route: 'n1', host: '10.1.2.3', secret: 'a-long-enough-shared-secret' })).not.toThrow()
    expect(() => createSessionCluster({ route: 'n1', host: '10.1.2.3', insecure: true })).not.toThrow()
  })
})

describe('limits and status', () => {
  it('maxSessions refuses the next new session with TooManySessionsError; updates still work', async () => {
    const c = memorySessionClusters({ maxSessions: 2 })
    cleanup = c.stopAll
    const [a] = await c.add(1)
    const first = a!.generateId()
    await a!.save(first, { n: 1 })
    await a!.save(a!.generateId(), { n: 2 })
    await expect(a!.save(a!.generateId(), { n: 3 })).rejects.toMatchObject({ name: 'TooManySessionsError' })
    await expect(a!.save(first, { n: 10 })).resolves.toBeUndefined()
    expect(a!.status().counters['sessions.rejected']).toBe(1)
  })

  it('maxSessionBytes refuses an oversized change with SessionTooLargeError and keeps the stored session', async () => {
    const c = memorySessionClusters({ maxSessionBytes: 1_000 })
    cleanup = c.stopAll
    const [a] = await c.add(1)
    const id = a!.generateId()
    await a!.save(id, { small: 'ok' })
    await expect(a!.save(id, { small: 'ok', big: 'x'.repeat(2_000) })).rejects.toMatchObject({ name: 'SessionTooLargeError' })
    await expect(a!.save(id, { bad: 10n })).rejects.toMatchObject({ name: 'UnserializableValueError' })
    expect((await a!.load(id))?.data).toEqual({ small: 'ok' })
  })

  it('status reports readiness, members, sessions, tombstones and counters', async () => {
    const c = memorySessionClusters()
    cleanup = c.stopAll
    const [a, b] = await c.add(2)
    const id = a!.generateId()
    await a!.save(id, { x: 1 })
    await a!.destroy(a!.generateId()) // unknown: nothing happens
    await b!.save(b!.generateId(), { y: 1 })
    await a!.destroy(id)
    const status = a!.status()
    expect(status).toMatchObject({ route: 'node1', ready: true, replication: 'sync', manager: 'delta', sessions: 1, tombstones: 1 })
    expect(status.members).toEqual([expect.objectContaining({ route: 'node2', state: 'alive', ready: true, id: b!.local.id })])
    expect(status.counters['replication.applied']).toBeGreaterThanOrEqual(1)
    // One replication batch per commit (the save and the destroy), to the one member.
    expect(status.counters['channel.sent.rd']).toBe(2)
  })

  it('start and stop are idempotent; a stopped node leaves no timers', async () => {
    const c = memorySessionClusters()
    const [a, b] = await c.add(2)
    await Promise.all([a!.start(), a!.start()])
    await c.run(a!.stop()) // a stopping node hands off to its peers: the manual clock must move meanwhile
    await a!.stop()
    await c.run(b!.stop())
    expect(c.clock.pendingTimers).toBe(0)
    await expect(a!.save(a!.generateId(), {})).rejects.toMatchObject({ name: 'NotStartedError' })
  })
})

describe('stop while starting', () => {
  it('a node stopped before it is ready ends stopped: start and whenReady reject, no timers remain, no restart', async () => {
    const c = memorySessionClusters()
    const [a] = await c.add(1)
    const late = createSessionCluster({
      route: 'late',
      transport: memoryTransport({ network: c.network, port: 7001 }),
      members: [`127.0.0.1:${a!.local.address.port}`], // a seed that never answers (cut off below): the node waits
      clock: c.clock,
      logger: silentLogger,
    })
    c.network.partition([{ host: '127.0.0.1', port: 7001 }], [a!.local.address])
    const starting = late.start()
    const ready = late.whenReady()
    await c.clock.advance(10)
    await late.stop()
    await expect(starting).rejects.toMatchObject({ name: 'NotStartedError' })
    await expect(ready).rejects.toMatchObject({ name: 'NotStartedError' })
    await expect(late.start()).rejects.toMatchObject({ name: 'NotStartedError' })
    expect(late.ready).toBe(false)
    await a!.stop()
    expect(c.clock.pendingTimers).toBe(0)
  })
})
