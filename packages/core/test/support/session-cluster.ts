import { afterEach } from 'vitest'
import { ManualClock } from '../../src/clock/manual-clock.js'
import { createSessionCluster } from '../../src/cluster/create-session-cluster.js'
import type { SessionClusterInit } from '../../src/cluster/options.js'
import type { SessionCluster } from '../../src/cluster/session-cluster.js'
import { silentLogger } from '../../src/logger.js'
import { type NetworkFaults, MemoryNetwork } from '../../src/transport/memory/memory-network.js'
import { memoryTransport } from '../../src/transport/memory/memory-transport.js'

const BASE_PORT = 6000

/**
 * In-memory session clusters on one network and one ManualClock; `add` starts more nodes later. Each node has
 * its own wall clock (`wallClocks[i].stepWall(ms)` steps one node's clock); timers are shared.
 */
export function memorySessionClusters(
  options: Partial<SessionClusterInit> & {
    seed?: number
    faults?: Partial<NetworkFaults>
    /** Called with every node made (added or restarted) before it starts: to listen to its events from the start. */
    onNode?: (index: number, node: SessionCluster) => void
    /** Called with every frame delivered, by node index. */
    onDeliver?: (from: number, to: number, frame: Uint8Array) => void
  } = {},
) {
  const { seed, faults, onNode, onDeliver, ...init } = options
  const clock = new ManualClock()
  const indexOf = (address: { port: number }) => address.port - BASE_PORT
  const network = new MemoryNetwork({ clock, seed, faults, onDeliver: onDeliver && ((from, to, frame) => onDeliver(indexOf(from), indexOf(to), frame)) })
  const nodes: SessionCluster[] = []
  const ports: number[] = []
  const wallClocks: Array<ReturnType<ManualClock['skewed']>> = []
  const make = (index: number) => {
    wallClocks[index] ??= clock.skewed()
    const node = createSessionCluster({
      route: `node${index + 1}`,
      transport: memoryTransport({ network, port: BASE_PORT + index }),
      members: Array.from({ length: 8 }, (_, i) => `127.0.0.1:${BASE_PORT + i}`),
      clock: wallClocks[index],
      logger: silentLogger,
      ...init,
    })
    onNode?.(index, node)
    return node
  }
  async function add(count = 1): Promise<SessionCluster[]> {
    const added: SessionCluster[] = []
    for (let i = 0; i < count; i++) {
      const node = make(nodes.length)
      ports.push(BASE_PORT + nodes.length)
      nodes.push(node)
      added.push(node)
    }
    const starting = Promise.all(added.map((n) => n.start()))
    const ready = await clock.advanceUntil(() => added.every((n) => n.ready), { stepMs: 100, maxMs: 120_000 })
    if (!ready) throw new Error('nodes did not become ready')
    await starting
    await clock.advanceUntil(() => nodes.every((n) => n.status().members.length === nodes.length - 1), { stepMs: 100 })
    return added
  }
  /** Restart node `index` as a new process at the same address (its memory is gone). */
  async function restart(index: number): Promise<SessionCluster> {
    const node = make(index)
    nodes[index] = node
    const starting = node.start()
    await clock.advanceUntil(() => node.ready, { stepMs: 100, maxMs: 120_000 })
    await starting
    return node
  }
  /** SIGKILL: the node vanishes from the network without a goodbye (its timers are stopped too). */
  async function kill(index: number): Promise<void> {
    const node = nodes[index]!
    network.detachAddress(node.local.address)
    await run(node.stop())
  }
  /** Stop every node (a stopping node hands off to its peers over the network: the clock must move meanwhile). */
  async function stopAll(): Promise<void> {
    for (const n of nodes) await run(n.stop())
  }
  /** Run `promise` while the manual clock advances (it may wait for the network). */
  async function run<T>(promise: Promise<T>, maxMs = 60_000): Promise<T> {
    let done = false
    void promise.finally(() => (done = true)).catch(() => {})
    await clock.advanceUntil(() => done, { stepMs: 10, maxMs })
    return promise
  }
  return { clock, network, nodes, wallClocks, add, restart, kill, stopAll, run }
}

/**
 * For a test file: `cluster(count, options)` starts `count` in-memory nodes (`memorySessionClusters`), and every
 * test's clusters are stopped after it.
 */
export function clustersStoppedAfterEach(): (count: number, options?: Parameters<typeof memorySessionClusters>[0]) => Promise<ReturnType<typeof memorySessionClusters>> {
  let cleanup: () => Promise<void> = async () => {}
  afterEach(async () => {
    await cleanup()
    cleanup = async () => {}
  })
  return async (count, options = {}) => {
    const c = memorySessionClusters(options)
    cleanup = c.stopAll
    await c.add(count)
    return c
  }
}

/** A node's copy of a session's data, or undefined. */
export const dataOf = async (node: SessionCluster, id: string) => (await node.load(id))?.data
