import { afterEach, describe, expect, it } from 'vitest'
import { InvalidParametersError } from '../src/errors.js'
import { Channel } from '../src/channel/channel.js'
import { ManualClock } from '../src/clock/manual-clock.js'
import { staticMembership } from '../src/membership/static/static-membership.js'
import { MemoryNetwork } from '../src/transport/memory/memory-network.js'
import { memoryTransport } from '../src/transport/memory/memory-transport.js'
import { memoryCluster } from './support/memory-cluster.js'

describe('static membership on the in-memory network (manual clock, no sleeping)', () => {
  let stopAll: () => Promise<void> = async () => {}
  afterEach(() => stopAll())

  async function started(count: number) {
    const c = memoryCluster(count)
    stopAll = async () => {
      for (const n of c.nodes) await n.membership.stop()
      for (const n of c.nodes) await n.channel.stop()
    }
    for (const n of c.nodes) await n.membership.start()
    return c
  }

  it('three nodes join each other', async () => {
    const { clock, nodes, routesSeenBy } = await started(3)
    const joined = await clock.advanceUntil(() => nodes.every((n) => n.membership.members().length === 2))
    expect(joined).toBe(true)
    expect(routesSeenBy(nodes[0]!)).toEqual(['node2', 'node3'])
    expect(routesSeenBy(nodes[2]!)).toEqual(['node1', 'node2'])
    expect(nodes[0]!.membership.members().every((m) => m.state === 'alive')).toBe(true)
  })

  it('a member whose port refuses connections is removed at once; it rejoins as a new incarnation', async () => {
    const { clock, network, nodes, routesSeenBy } = await started(3)
    await clock.advanceUntil(() => nodes.every((n) => n.membership.members().length === 2))
    const events: string[] = []
    nodes[0]!.membership.on('suspect', (m) => events.push(`suspect ${m.route}`))
    nodes[0]!.membership.on('leave', (m, reason) => events.push(`leave ${m.route} ${reason}`))
    const oldId = nodes[2]!.membership.local.id

    for (const n of nodes) n.membership.setReady(true)
    expect(await clock.advanceUntil(() => nodes[0]!.membership.hasRoute('node3'))).toBe(true)
    // Crash node3: its transport vanishes from the network, no goodbye is sent.
    await nodes[2]!.transport.stop()
    // Nothing listens at its address any more (connection refused): that proves the process is gone, so it is
    // removed at the next send, without waiting for suspicion and a ping.
    const removed = await clock.advanceUntil(() => routesSeenBy(nodes[0]!).length === 1 && routesSeenBy(nodes[1]!).length === 1)
    expect(removed).toBe(true)
    expect(events).toEqual(['leave node3 gone'])

    // Restart node3 as a new process at the same address.
    const transport = memoryTransport({ network, port: nodes[2]!.transport.address.port })
    const channel = new Channel({ transport, clock })
    const membership = staticMembership({ channel, route: 'node3', members: nodes.map((n) => `127.0.0.1:${n.transport.address.port}`), clock })
    await membership.start()
    const back = await clock.advanceUntil(() => routesSeenBy(nodes[0]!).length === 2 && membership.members().length === 2)
    expect(back).toBe(true)
    const node3 = nodes[0]!.membership.members().find((m) => m.route === 'node3')!
    expect(node3.id).not.toBe(oldId)
    // Back, but still pulling state: its sessions' users must stay on the node that took them over.
    expect(nodes[0]!.membership.hasRoute('node3')).toBe(false)
    membership.setReady(true)
    expect(await clock.advanceUntil(() => nodes[0]!.membership.hasRoute('node3'))).toBe(true)
    await membership.stop()
    await channel.stop()
  })

  it('a graceful stop removes the member at once', async () => {
    const { clock, nodes, routesSeenBy } = await started(3)
    await clock.advanceUntil(() => nodes.every((n) => n.membership.members().length === 2))
    const leaves: string[] = []
    nodes[0]!.membership.on('leave', (m, reason) => leaves.push(`${m.route} ${reason}`))
    await nodes[1]!.membership.stop()
    await clock.advance(10)
    expect(leaves).toEqual(['node2 left'])
    expect(routesSeenBy(nodes[0]!)).toEqual(['node3'])
  })

  it('partition and heal: each side removes the other, then all rejoin', async () => {
    const { clock, network, nodes, routesSeenBy } = await started(3)
    await clock.advanceUntil(() => nodes.every((n) => n.membership.members().length === 2))
    const [a, b, c] = nodes.map((n) => n.transport.address)
    network.partition([a!, b!], [c!])
    const split = await clock.advanceUntil(
      () => routesSeenBy(nodes[0]!).join() === 'node2' && routesSeenBy(nodes[2]!).length === 0,
    )
    expect(split).toBe(true)
    expect(routesSeenBy(nodes[1]!)).toEqual(['node1'])
    network.heal()
    const healed = await clock.advanceUntil(() => nodes.every((n) => n.membership.members().length === 2))
    expect(healed).toBe(true)
  })

  it('a node that lists only one member learns the others from its heartbeats, and they learn it', async () => {
    const clock = new ManualClock()
    const network = new MemoryNetwork({ clock })
    const make = (route: string, port: number, members: string[]) => {
      const channel = new Channel({ transport: memoryTransport({ network, port }), clock })
      return { channel, membership: staticMembership({ channel, route, members, clock }) }
    }
    const a = make('a', 5101, ['127.0.0.1:5102'])
    const b = make('b', 5102, ['127.0.0.1:5101'])
    const c = make('c', 5103, ['127.0.0.1:5101']) // knows only A
    const all = [a, b, c]
    for (const n of all) await n.membership.start()
    const meshed = await clock.advanceUntil(() => all.every((n) => n.membership.members().length === 2))
    expect(meshed).toBe(true)
    expect(b.membership.members().map((m) => m.route).sort()).toEqual(['a', 'c'])
    for (const n of all) {
      await n.membership.stop()
      await n.channel.stop()
    }
  })

  it('start and stop are idempotent and leave no timers behind', async () => {
    const c = memoryCluster(2)
    for (const n of c.nodes) {
      await n.membership.start()
      await n.membership.start()
    }
    await c.clock.advanceUntil(() => c.nodes.every((n) => n.membership.members().length === 1))
    for (const n of c.nodes) {
      await n.membership.stop()
      await n.membership.stop()
      await n.channel.stop()
      await n.channel.stop()
    }
    expect(c.clock.pendingTimers).toBe(0)
  })

  it('rejects bad options with a named error at construction', () => {
    const network = new MemoryNetwork()
    const channel = new Channel({ transport: memoryTransport({ network }) })
    expect(() => staticMembership({ channel, route: 'bad route!' })).toThrow(InvalidParametersError)
    expect(() => staticMembership({ channel, route: 'n1', members: ['nohost'] })).toThrow(InvalidParametersError)
    expect(() => staticMembership({ channel, route: 'n1', members: ['10.0.0.1:99999'] })).toThrow(InvalidParametersError)
    expect(() => staticMembership({ channel, route: 'n1', heartbeatIntervalMs: -5 })).toThrow(InvalidParametersError)
  })
})

