import { afterEach, describe, expect, it } from 'vitest'
import { createSessionCluster, type SessionCluster, silentLogger } from '../src/index.js'
import { eventually } from './support/processes.js'

// Workers on one host with no member list: each binds the first free port of a range and probes the range for the
// others (real TCP on loopback, several nodes in this process).
const SECRET = 'discovery-local-test-secret-0123456789'
const nodes: SessionCluster[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})

/** A base port with `count` ports above it that nothing listens on now (a random spot in the ephemeral-free band). */
async function freeRange(count: number): Promise<number> {
  const { createServer } = await import('node:net')
  for (;;) {
    const base = 20_000 + Math.floor(Math.random() * 20_000)
    const free = await Promise.all(
      Array.from({ length: count }, (_, i) => new Promise<boolean>((resolve) => {
        const s = createServer().once('error', () => resolve(false))
        s.listen({ host: '127.0.0.1', port: base + i, exclusive: true }, () => s.close(() => resolve(true)))
      })),
    )
    if (free.every(Boolean)) return base
  }
}

function worker(route: string, port: number, autoBind: number): SessionCluster {
  const node = createSessionCluster({
    route,
    port,
    autoBind,
    secret: SECRET,
    discovery: { kind: 'local', probeIntervalMs: 200, probeTimeoutMs: 500 },
    heartbeatIntervalMs: 100,
    suspectTimeoutMs: 1_000,
    verifyTimeoutMs: 300,
    logger: silentLogger,
  })
  nodes.push(node)
  return node
}

const peersOf = (n: SessionCluster) =>
  n
    .status()
    .members.filter((m) => m.state === 'alive')
    .map((m) => m.route)
    .sort()
    .join()

describe('local discovery (a port range on this host)', () => {
  it('workers started at once take their own ports, find each other, and form one cluster that shares sessions', async () => {
    const base = await freeRange(6)
    const [a, b, c] = [worker('w1', base, 5), worker('w2', base, 5), worker('w3', base, 5)]
    await Promise.all([a, b, c].map((n) => n.start()))
    const ports = [a, b, c].map((n) => n.local.address.port).sort()
    expect(new Set(ports).size).toBe(3)
    expect(ports.every((p) => p >= base && p <= base + 5)).toBe(true)
    expect(await eventually(() => peersOf(a) === 'w2,w3' && peersOf(b) === 'w1,w3' && peersOf(c) === 'w1,w2')).toBe(true)
    expect(await eventually(() => a.status().discovery.contacts.length === 2)).toBe(true)
    expect(a.status().discovery).toEqual({ kind: 'local', contacts: [b, c].map((n) => `127.0.0.1:${n.local.address.port}`).sort(), settled: true })
    // One cluster from the start: at most the first worker up (it took the lowest port) started alone.
    const outcomes = [a, b, c].map((n) => ({ port: n.local.address.port, outcome: n.status().stateTransfer })).sort((x, y) => x.port - y.port)
    expect(outcomes.slice(1).map((o) => o.outcome)).toEqual(['complete', 'complete'])

    const id = a.generateId()
    await a.save(id, { cart: ['apple'] })
    for (const n of [b, c]) expect((await n.load(id))?.data).toEqual({ cart: ['apple'] })
  })

  it('a worker that leaves is removed, and one started later on the freed port pulls every session', async () => {
    const base = await freeRange(4)
    const [a, b] = [worker('w1', base, 3), worker('w2', base, 3)]
    await Promise.all([a.start(), b.start()])
    expect(await eventually(() => peersOf(a) === 'w2' && peersOf(b) === 'w1')).toBe(true)
    const ids = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const id = b.generateId()
        await b.save(id, { n: i })
        return id
      }),
    )
    await b.stop() // a graceful stop here; the PM2 and node:cluster tests SIGKILL real processes
    nodes.splice(nodes.indexOf(b), 1)
    expect(await eventually(() => peersOf(a) === '')).toBe(true)
    const b2 = worker('w2b', base, 3)
    await b2.start()
    expect(b2.status().stateTransfer).toBe('complete')
    for (const [i, id] of ids.entries()) expect((await b2.load(id))?.data).toEqual({ n: i })
  })

  it('refuses a local discovery without a port range, and a range that is all taken, with named errors', async () => {
    expect(() => createSessionCluster({ route: 'x', port: 4000, autoBind: 0, discovery: { kind: 'local' } })).toThrow(/needs a port range/)
    expect(() => createSessionCluster({ route: 'x', discovery: { kind: 'local' }, members: ['127.0.0.1:4001'] })).toThrow(/one or the other/)
    expect(() => createSessionCluster({ route: 'x', discovery: { kind: 'lcoal' } as never })).toThrow(/kind must be one of/)
    const base = await freeRange(2)
    const [a, b] = [worker('w1', base, 1), worker('w2', base, 1)]
    await Promise.all([a.start(), b.start()])
    const c = worker('w3', base, 1)
    await expect(c.start()).rejects.toMatchObject({ name: 'InvalidParametersError', message: expect.stringMatching(/every cluster port of .* is in use/) })
    nodes.splice(nodes.indexOf(c), 1)
  })
})
