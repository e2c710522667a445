import { afterEach, describe, expect, it } from 'vitest'
import { Channel } from '../src/channel/channel.js'
import { aesGcmProtector } from '../src/crypto/index.js'
import type { Membership } from '../src/membership/membership.js'
import { staticMembership } from '../src/membership/static/static-membership.js'
import { tcpTransport } from '../src/transport/tcp/index.js'
import { eventually } from './support/processes.js'

const SECRET = 'membership-tcp-test-secret-123456'

interface Node {
  channel: Channel
  membership: Membership
}

const nodes: Node[] = []
afterEach(async () => {
  for (const n of nodes.splice(0)) {
    await n.membership.stop()
    await n.channel.stop()
  }
})

async function node(route: string, port: number, members: string[]): Promise<Node> {
  const transport = tcpTransport({ port, protector: aesGcmProtector({ secret: SECRET, clusterName: 'tcp-membership' }) })
  const channel = new Channel({ transport })
  const membership = staticMembership({ channel, route, members, heartbeatIntervalMs: 100, suspectTimeoutMs: 600, verifyTimeoutMs: 300 })
  await membership.start()
  const n = { channel, membership }
  nodes.push(n)
  return n
}

const routes = (n: Node) =>
  n.membership
    .members()
    .map((m) => m.route)
    .sort()
    .join()

describe('static membership on real TCP (encrypted)', () => {
  it('three nodes join; a node that stops without leaving is removed; it rejoins as a new incarnation', async () => {
    const a = await node('a', 0, [])
    const portA = a.channel.address.port
    const b = await node('b', 0, [`127.0.0.1:${portA}`])
    const c = await node('c', 0, [`127.0.0.1:${portA}`, `127.0.0.1:${b.channel.address.port}`])
    expect(await eventually(() => routes(a) === 'b,c' && routes(b) === 'a,c' && routes(c) === 'a,b')).toBe(true)

    const leaves: string[] = []
    a.membership.on('leave', (m, reason) => leaves.push(`${m.route} ${reason}`))
    const oldId = c.membership.local.id
    const portC = c.channel.address.port
    // crash: close C's sockets without the goodbye message, and stop its heartbeats
    nodes.splice(nodes.indexOf(c), 1)
    await c.channel.stop()
    await c.membership.stop().catch(() => {})
    expect(await eventually(() => routes(a) === 'b' && routes(b) === 'a')).toBe(true)
    expect(leaves).toContain('c gone') // its port refuses connections: removed at once

    const c2 = await node('c', portC, [`127.0.0.1:${portA}`])
    expect(await eventually(() => routes(a) === 'b,c' && routes(b) === 'a,c' && routes(c2) === 'a,b')).toBe(true)
    expect(a.membership.members().find((m) => m.route === 'c')?.id).not.toBe(oldId)
  })
})
