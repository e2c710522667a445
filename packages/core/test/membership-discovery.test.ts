import { afterEach, describe, expect, it } from 'vitest'
import { Channel } from '../src/channel/channel.js'
import { ManualClock } from '../src/clock/manual-clock.js'
import { DiscoveryUnavailableError } from '../src/errors.js'
import type { Address } from '../src/member.js'
import type { Discovery, DiscoveryContext } from '../src/membership/discovery.js'
import { heartbeatMembership } from '../src/membership/heartbeat-membership.js'
import type { Membership } from '../src/membership/membership.js'
import { MemoryNetwork } from '../src/transport/memory/memory-network.js'
import { memoryTransport } from '../src/transport/memory/memory-transport.js'

/** A discovery the test steers: what it reports, whether it settled, and a start that may fail. */
class SteeredDiscovery implements Discovery {
  readonly kind = 'steered'
  #contacts: Address[] = []
  #settled = true
  #context?: DiscoveryContext
  constructor(private readonly failStart = false) {}
  async start(context: DiscoveryContext) {
    if (this.failStart) throw new DiscoveryUnavailableError('no such thing here')
    this.#context = context
  }
  async stop() {}
  contacts() {
    return this.#contacts
  }
  settled() {
    return this.#settled
  }
  report(contacts: Address[], settled = true) {
    this.#contacts = contacts
    this.#settled = settled
    this.#context?.contactsChanged()
  }
}

const at = (port: number): Address => ({ host: '127.0.0.1', port })

describe('heartbeat membership over a discovery (in-memory network, manual clock)', () => {
  const running: Array<{ membership: Membership; channel: Channel }> = []
  afterEach(async () => {
    for (const n of running.splice(0)) {
      await n.membership.stop()
      await n.channel.stop()
    }
  })

  function cluster(count: number) {
    const clock = new ManualClock()
    const network = new MemoryNetwork({ clock, seed: 7 })
    const nodes = Array.from({ length: count }, (_, i) => {
      const transport = memoryTransport({ network, port: 6000 + i })
      const channel = new Channel({ transport, clock })
      const discovery = new SteeredDiscovery()
      const membership = heartbeatMembership({ channel, route: `n${i}`, discovery, clock, suspectTimeoutMs: 60_000, verifyTimeoutMs: 300 })
      running.push({ membership, channel })
      return { membership, discovery, address: at(6000 + i) }
    })
    return { clock, network, nodes }
  }

  it('joins the contacts it is given; a vanished contact is checked directly and stays while it answers', async () => {
    const { clock, nodes } = cluster(2)
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]]
    for (const n of nodes) await n.membership.start()
    a.discovery.report([b.address])
    expect(await clock.advanceUntil(() => a.membership.members().length === 1 && b.membership.members().length === 1)).toBe(true)
    const events: string[] = []
    a.membership.on('suspect', (m) => events.push(`suspect ${m.route}`))
    a.membership.on('alive', (m) => events.push(`alive ${m.route}`))
    a.membership.on('leave', (m, reason) => events.push(`leave ${m.route} ${reason}`))
    a.discovery.report([]) // a DNS answer without it: not proof that it is gone
    expect(await clock.advanceUntil(() => events.includes('alive n1'))).toBe(true)
    expect(events).toEqual(['suspect n1', 'alive n1'])
    expect(a.membership.members().map((m) => m.route)).toEqual(['n1'])
  })

  it('a vanished contact that does not answer is removed, long before silence alone would remove it', async () => {
    const { clock, network, nodes } = cluster(2)
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]]
    for (const n of nodes) await n.membership.start()
    a.discovery.report([b.address])
    expect(await clock.advanceUntil(() => a.membership.members().length === 1)).toBe(true)
    const left: string[] = []
    a.membership.on('leave', (m, reason) => left.push(`${m.route} ${reason}`))
    network.pause(b.address)
    a.discovery.report([])
    const start = clock.monotonic()
    expect(await clock.advanceUntil(() => left.length > 0)).toBe(true)
    expect(left).toEqual(['n1 failed'])
    expect(clock.monotonic() - start).toBeLessThan(60_000) // suspectTimeoutMs: silence had not removed it yet
  })

  it('a starting node decides nothing before its contacts settle, then waits for every contact that accepts connections', async () => {
    const { clock, nodes } = cluster(3)
    const [a, b, c] = nodes as [(typeof nodes)[0], (typeof nodes)[0], (typeof nodes)[0]]
    await a.membership.start()
    await b.membership.start()
    // c is listed but not started: its port refuses connections once a heartbeat tried it.
    // a has the lowest address, and b runs already: a must hear b before it decides anything.
    const all = nodes.map((n) => n.address)
    a.discovery.report(all, false)
    expect(a.membership.pendingSeeds()).toBe(1) // not settled: not even alone yet
    a.discovery.report(all, true)
    expect(a.membership.pendingSeeds()).toBe(1) // b not heard yet; c refused the first heartbeat: not waited for
    expect(await clock.advanceUntil(() => a.membership.pendingSeeds() === 0)).toBe(true)
    expect(a.membership.members().map((m) => m.route)).toEqual(['n1'])
    expect(c.membership.members()).toEqual([])
  })

  it('a discovery that cannot start fails the membership start with its named error', async () => {
    const clock = new ManualClock()
    const channel = new Channel({ transport: memoryTransport({ network: new MemoryNetwork({ clock }), port: 6100 }), clock })
    const membership = heartbeatMembership({ channel, route: 'x', discovery: new SteeredDiscovery(true), clock })
    running.push({ membership, channel })
    await expect(membership.start()).rejects.toBeInstanceOf(DiscoveryUnavailableError)
    expect(membership.pendingSeeds()).toBe(0)
  })
})
