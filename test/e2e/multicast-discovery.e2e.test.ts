// Multicast discovery with the Express example (CLUSTER_DISCOVERY=multicast): three processes with no member list
// find each other through announcements on a loopback group of their own, and share a cart.
import { afterAll, describe, expect, it } from 'vitest'
import { AppNode, assertBuilt, freePorts, HttpClient, waitMembership } from '../support/index.js'

const SECRET = 'multicast-e2e-secret-0123456789abcdef'

describe('multicast discovery (example processes on a loopback group)', () => {
  const nodes: AppNode[] = []
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.dispose()))
  })

  it('three nodes started with no member list find each other and share sessions; one SIGKILLed is removed', async () => {
    assertBuilt('express-cart')
    const ports = await freePorts(7)
    const group = `239.254.${Math.floor(Math.random() * 250) + 1}.${Math.floor(Math.random() * 250) + 1}`
    for (let i = 0; i < 3; i++) {
      nodes.push(
        new AppNode({
          app: 'express-cart',
          route: `node${i + 1}`,
          port: ports[i]!,
          clusterPort: ports[3 + i]!,
          members: [],
          replication: 'sync',
          env: {
            CLUSTER_DISCOVERY: 'multicast',
            CLUSTER_MULTICAST_ADDRESS: group,
            CLUSTER_MULTICAST_PORT: String(ports[6]),
            CLUSTER_MULTICAST_INTERFACE: '127.0.0.1',
            CLUSTER_SECRET: SECRET,
            CLUSTER_HEARTBEAT_INTERVAL_MS: '200',
          },
        }),
      )
    }
    await Promise.all(nodes.map((n) => n.start()))
    await waitMembership(nodes)

    const writer = new HttpClient(nodes[0]!.url)
    await writer.getJson('/cart?add=apple')
    await new HttpClient(nodes[1]!.url, { jar: writer.jar }).getJson('/cart?add=pear')
    const reader = new HttpClient(nodes[2]!.url, { jar: writer.jar })
    expect((await reader.getJson<{ items: string[] }>('/cart')).items).toEqual(['apple', 'pear'])
    for (const c of [writer, reader]) c.close()

    await nodes[2]!.kill('SIGKILL')
    await waitMembership(nodes)
  })
})
