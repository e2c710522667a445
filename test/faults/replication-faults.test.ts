// Three cluster nodes in real processes, each reached by the others only through a TCP fault proxy in front of
// it (connections leave from each node's own address, so the proxy tells senders apart), so the test can
// reset a connection with frames in flight or drop one direction of one link; a node is also frozen with
// SIGSTOP. Clients write on both nodes and read on both; the history checker of the in-memory fault suite
// then says whether any read missed an acknowledged write. Runs the built core (`pnpm test` builds first).
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { checkHistory, type Cut, type Operation } from '../../packages/core/test/support/history-checker.js'
import { forkNode, type NodeProcess } from '../../packages/core/test/fixtures/node-process.mjs'
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.js'
import { freePort } from '../support/ports.js'

const script = fileURLToPath(new URL('../../packages/core/test/fixtures/cluster-node.mjs', import.meta.url))
const SETTINGS = { heartbeatIntervalMs: 100, suspectTimeoutMs: 600, verifyTimeoutMs: 300, ackTimeoutMs: 1_000, stateTransferTimeoutMs: 10_000 }
/** Long enough for each side to declare the other failed (see the checker); the faults here are shorter. */
const DETECTION_MS = 2 * (SETTINGS.suspectTimeoutMs + 2 * SETTINGS.verifyTimeoutMs) + SETTINGS.heartbeatIntervalMs

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => {})
})

/** Node `i` listens on 127.0.0.(2+i) and advertises 127.0.0.(12+i), where its proxy stands on the same port. */
async function trio(): Promise<{ nodes: NodeProcess[]; proxies: FaultProxy[] }> {
  const ports = [await freePort(), await freePort(), await freePort()]
  const proxies = await Promise.all(
    ports.map((port, i) => startFaultProxy({ target: { host: `127.0.0.${2 + i}`, port }, listenHost: `127.0.0.${12 + i}`, listenPort: port })),
  )
  for (const p of proxies) cleanups.push(() => p.close())
  const members = ports.map((port, i) => `127.0.0.${12 + i}:${port}`)
  const nodes = await Promise.all(
    ports.map((port, i) =>
      forkNode(script, `node${i + 1}`, { route: `node${i + 1}`, host: `127.0.0.${2 + i}`, advertiseHost: `127.0.0.${12 + i}`, port, members, ...SETTINGS }),
    ),
  )
  for (const n of nodes) cleanups.push(() => n.kill('SIGKILL'))
  return { nodes, proxies }
}

/** Wait until every node sees the two others. */
async function eventuallyMembers(nodes: NodeProcess[]): Promise<void> {
  const deadline = Date.now() + 15_000
  while (Date.now() < deadline) {
    const counts = await Promise.all(nodes.map(async (n) => (await n.call<{ members: unknown[] }>('status')).members.length))
    if (counts.every((c) => c === nodes.length - 1)) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error('the nodes did not all see each other')
}

describe('replication faults between real processes (fault proxy, SIGSTOP)', () => {
  it('resets with frames in flight, one-way loss and a frozen node: no read misses an acknowledged write', async () => {
    const { nodes, proxies } = await trio()
    const [a, b] = nodes as [NodeProcess, NodeProcess, NodeProcess]
    // proxies[i] carries everything sent to node i; `from` picks the sender by its address.
    const toB = proxies[1]!
    const fromA = { from: '127.0.0.2' }
    await eventuallyMembers(nodes)
    const t0 = Date.now()
    const now = () => Date.now() - t0
    const ops: Operation[] = []
    const cuts: Cut[] = []
    const [id] = await a.call<string[]>('create', { count: 1 })
    let next = 0
    const stopped = new Set<number>()

    let running = true
    async function client(n: number): Promise<void> {
      while (running) {
        if (stopped.has(n)) {
          await new Promise((r) => setTimeout(r, 20))
          continue
        }
        const node = nodes[n]!
        const value = `v${next++}`
        const write: Operation = { kind: 'write', node: n, session: id!, attr: 'x', value, invokeAt: now(), ok: false }
        ops.push(write)
        try {
          await node.call('write', { id, attr: 'x', value }, 5_000)
          write.ok = true
          write.completeAt = now()
        } catch {}
        const reader = (n + 1 + (next % 2)) % nodes.length
        const read: Operation = { kind: 'read', node: reader, session: id!, invokeAt: now(), ok: false }
        ops.push(read)
        if (stopped.has(reader)) continue
        try {
          const [data] = await nodes[reader]!.call<Array<Record<string, unknown> | null>>('load', { ids: [id] }, 5_000)
          read.attrs = data ?? null
          read.ok = true
          read.completeAt = now()
        } catch {}
      }
    }

    const faults = (async () => {
      await new Promise((r) => setTimeout(r, 200))
      // 1. Resets with frames in flight: hold a → b traffic for 50 ms, reset it under the held bytes.
      for (let k = 0; k < 5; k++) {
        toB.delay(50, fromA)
        await new Promise((r) => setTimeout(r, 30))
        toB.reset(fromA)
        toB.heal()
        await new Promise((r) => setTimeout(r, 100))
      }
      // 2. One-way loss a → b (b's frames still reach a, and c hears both), shorter than failure detection.
      let start = now()
      toB.blackhole('to-target', fromA)
      await new Promise((r) => setTimeout(r, 1_500))
      toB.heal()
      cuts.push({ from: 0, to: 1, start, end: now() })
      await new Promise((r) => setTimeout(r, 1_500))
      // 3. b frozen (SIGSTOP) longer than the ack timeout.
      start = now()
      stopped.add(1)
      b.child.kill('SIGSTOP')
      await new Promise((r) => setTimeout(r, 1_500))
      b.child.kill('SIGCONT')
      stopped.delete(1)
      for (const other of [0, 2]) cuts.push({ from: other, to: 1, start, end: now() }, { from: 1, to: other, start, end: now() })
    })()
    const clients = Promise.all([client(0), client(1), client(2)])
    await faults
    await new Promise((r) => setTimeout(r, 2_000))
    running = false
    await clients
    // Everything healed: both nodes converge on the last value.
    const final: Array<Record<string, Record<string, unknown> | null>> = []
    for (const node of nodes) {
      const deadline = Date.now() + 10_000
      let data: Record<string, unknown> | null = null
      for (;;) {
        try {
          const [loaded] = await node.call<Array<Record<string, unknown> | null>>('load', { ids: [id] })
          data = loaded ?? null
          break
        } catch {
          if (Date.now() > deadline) throw new Error('a node stays unable to serve after the faults healed')
          await new Promise((r) => setTimeout(r, 100))
        }
      }
      final.push({ [id!]: data })
    }
    const violations = checkHistory(ops, final, { detectionMs: DETECTION_MS, healMs: 2 * SETTINGS.heartbeatIntervalMs, cuts })
    const writes = ops.filter((o) => o.kind === 'write')
    const reads = ops.filter((o) => o.kind === 'read' && o.ok)
    console.log(`[real-process faults] ${writes.length} writes (${writes.filter((w) => w.ok).length} acknowledged), ${reads.length} reads, ${violations.length} violations`)
    expect(violations).toEqual([])
    expect(final[1]).toEqual(final[0])
    expect(final[2]).toEqual(final[0])
    expect(writes.filter((w) => w.ok).length).toBeGreaterThan(20)
  }, 60_000)
})
