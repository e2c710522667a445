import { afterEach, describe, expect, it } from 'vitest'
import { type NodeProcess, eventually, startNode } from './support/processes.js'

/**
 * Real processes on loopback TCP (encrypted), killed with SIGKILL. These run the built package: `pnpm test`
 * builds first.
 */
const SECRET = 'multi-process-test-secret-0123456789'
const started: NodeProcess[] = []
afterEach(async () => {
  await Promise.all(started.splice(0).map((n) => n.kill()))
})

async function node(route: string, members: NodeProcess[], extra: Record<string, unknown> = {}) {
  const n = await startNode(route, {
    secret: SECRET,
    members: members.map((m) => `127.0.0.1:${m.port}`),
    stateTransferTimeoutMs: 30_000,
    ...extra,
  })
  started.push(n)
  return n
}

type Digest = { sessions: number; digest: string }

describe('replication between real processes (TCP, AES-GCM)', () => {
  it('1,000 sessions written in sync mode survive a SIGKILL; the restarted node has them all before ready', async () => {
    const a = await node('nodeA', [])
    const b = await node('nodeB', [a])
    const c = await node('nodeC', [a, b])
    await eventually(async () => (await a.call<{ members: unknown[] }>('status')).members.length === 2)
    const ids = [
      ...(await a.call<string[]>('create', { count: 400 })),
      ...(await b.call<string[]>('create', { count: 300 })),
      ...(await c.call<string[]>('create', { count: 300 })),
    ]
    await b.call('push', { ids: ids.slice(0, 100), value: 'pushed-on-b' })
    const expected = await a.call<Digest>('digest')
    expect(expected.sessions).toBe(1_000)

    await b.kill('SIGKILL')
    // sync mode: every save above was applied everywhere before it resolved; nothing to wait for.
    expect(await a.call<Digest>('digest')).toEqual(expected)
    expect(await c.call<Digest>('digest')).toEqual(expected)

    // restart B at the same port as a new process: ready means it already holds every session
    const b2 = await node('nodeB', [a, c], { port: b.port })
    expect(await b2.call<Digest>('digest')).toEqual(expected)
    const status = await b2.call<{ stateTransfer: string; ready: boolean }>('status')
    expect(status).toMatchObject({ ready: true, stateTransfer: 'complete' })
  })

  it('a node joining a cluster of 10,000 sessions while writes continue ends identical to the others', async () => {
    const a = await node('nodeA', [], { replication: 'async' })
    const b = await node('nodeB', [a], { replication: 'async' })
    await eventually(async () => (await a.call<{ members: unknown[] }>('status')).members.length === 1)
    const ids = await a.call<string[]>('create', { count: 10_000, size: 64, concurrency: 64 })
    // async mode: let B catch up before it writes to those sessions
    expect(await eventually(async () => (await b.call<Digest>('digest')).sessions === 10_000)).toBe(true)
    const writes = Promise.all([
      a.call('create', { count: 2_000, concurrency: 4 }),
      b.call('push', { ids: ids.slice(0, 1_000), value: 'during-join' }),
    ])
    const joiner = await node('nodeC', [a, b], { replication: 'async', stateTransferChunkBytes: 64 * 1024 })
    await writes
    const converged = await eventually(async () => {
      const [da, db, dc] = await Promise.all([a, b, joiner].map((n) => n.call<Digest>('digest')))
      return da!.digest === db!.digest && db!.digest === dc!.digest
    })
    expect(converged).toBe(true)
    expect((await joiner.call<Digest>('digest')).sessions).toBe(12_000)
  })
})
