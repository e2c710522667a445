import { Channel } from '../../src/channel/channel.js'
import { ManualClock } from '../../src/clock/manual-clock.js'
import type { Membership } from '../../src/membership/membership.js'
import { staticMembership } from '../../src/membership/static/static-membership.js'
import { MemoryNetwork } from '../../src/transport/memory/memory-network.js'
import { memoryTransport } from '../../src/transport/memory/memory-transport.js'
import type { Transport } from '../../src/transport/transport.js'

export interface TestNode {
  route: string
  transport: Transport
  channel: Channel
  membership: Membership
}

/** N nodes on one in-memory network driven by a ManualClock, each listing the others as static members. */
export function memoryCluster(count: number, { seed = 1 } = {}) {
  const clock = new ManualClock()
  const network = new MemoryNetwork({ clock, seed })
  const ports = Array.from({ length: count }, (_, i) => 5000 + i)
  const nodes: TestNode[] = ports.map((port, i) => {
    const transport = memoryTransport({ network, port })
    const channel = new Channel({ transport, clock })
    const membership = staticMembership({
      channel,
      route: `node${i + 1}`,
      members: ports.map((p) => `127.0.0.1:${p}`),
      clock,
    })
    return { route: `node${i + 1}`, transport, channel, membership }
  })
  const routesSeenBy = (node: TestNode) =>
    node.membership
      .members()
      .map((m) => m.route)
      .sort()
  return { clock, network, nodes, routesSeenBy }
}
