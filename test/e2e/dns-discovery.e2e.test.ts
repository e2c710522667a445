// DNS discovery against a real dnsmasq, as pods behind a Kubernetes headless service: three Express nodes on
// 127.0.0.2-4 (one address each, one cluster port), CLUSTER_DISCOVERY=dns and no member list. They start at once and
// form one cluster; an address removed from the name (hosts file rewritten, SIGHUP) and silent is removed.
import { Resolver } from 'node:dns/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeResolver, resolveMembers } from '../../packages/core/src/membership/dns/resolve.js'
import { AppNode, assertBuilt, DNSMASQ, type Dnsmasq, freePorts, HttpClient, startDnsmasq, systemToolMissing, tails, waitFor } from '../support/index.js'

const NAME = 'cart.cluster.test'
const HOSTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4']

describe.skipIf(systemToolMissing(DNSMASQ, 'dnsmasq'))('dns discovery (a headless service served by dnsmasq)', () => {
  let dns: Dnsmasq
  let clusterPort = 0
  let nodes: AppNode[] = []

  beforeAll(async () => {
    assertBuilt('express-cart')
    const ports = await freePorts(HOSTS.length + 1)
    clusterPort = ports[HOSTS.length]!
    dns = await startDnsmasq({ name: NAME, addresses: HOSTS, srvPort: clusterPort })
    nodes = HOSTS.map(
      (host, i) =>
        new AppNode({
          app: 'express-cart',
          route: `pod${i}`,
          port: ports[i]!,
          clusterPort,
          members: [],
          replication: 'sync',
          env: {
            CLUSTER_HOST: host,
            CLUSTER_DISCOVERY: 'dns',
            CLUSTER_DNS_NAME: NAME,
            CLUSTER_DNS_SERVERS: dns.server,
            CLUSTER_DNS_INTERVAL_MS: '300',
            CLUSTER_HEARTBEAT_INTERVAL_MS: '200',
            // Silence alone would take a minute to remove a member: within this test only DNS can remove one.
            CLUSTER_SUSPECT_TIMEOUT_MS: '60000',
            CLUSTER_VERIFY_TIMEOUT_MS: '600',
          },
        }),
    )
  })

  afterAll(async () => {
    for (const node of nodes) {
      if (node.running) node.signal('SIGCONT')
      await node.dispose()
    }
    await dns?.stop()
  })

  /** The routes a node lists: alive ones only, or every member (suspects too). */
  const aliveRoutes = async (node: AppNode, { suspects = false } = {}) => {
    const { body } = await node.status()
    return (body?.members ?? [])
      .filter((m) => suspects || m.state === 'alive')
      .map((m) => m.route)
      .sort()
      .join()
  }

  it('resolves the name as A records and as SRV (the port from the record)', async () => {
    const resolver = makeResolver([dns.server], 1_000)
    const a = await resolveMembers(resolver, NAME, { port: 4000, srv: false })
    expect(a.map((m) => `${m.host}:${m.port}`).sort()).toEqual(HOSTS.map((h) => `${h}:4000`))
    const srv = await resolveMembers(resolver, `_cluster._tcp.${NAME}`, { port: 4000, srv: true })
    expect(srv.map((m) => `${m.host}:${m.port}`).sort()).toEqual(HOSTS.map((h) => `${h}:${clusterPort}`))
    expect(await resolveMembers(resolver, 'nothing.cluster.test', { port: 4000, srv: false })).toEqual([])
  })

  it('three nodes started at once find each other through the name and form one cluster', async () => {
    const statuses = await Promise.all(nodes.map((n) => n.start()))
    // One cluster, not one each: at most one node started alone, the others pulled the state from a member.
    const outcomes = statuses.map((s) => s.stateTransfer)
    expect(outcomes.filter((o) => o === 'alone').length).toBeLessThanOrEqual(1)
    expect(outcomes.every((o) => o === 'alone' || o === 'complete')).toBe(true)
    await waitFor(
      'every node to see the two others',
      async () => ((await Promise.all(nodes.map((n) => aliveRoutes(n)))).join(' ') === 'pod1,pod2 pod0,pod2 pod0,pod1' ? true : undefined),
      { timeoutMs: 15_000, intervalMs: 100, describe: () => tails(nodes) },
    )
    // One cluster: a cart written on one node is read whole on the others.
    const writer = new HttpClient(nodes[0]!.url)
    await writer.getJson('/cart?add=apple')
    for (const node of nodes.slice(1)) {
      const reader = new HttpClient(node.url, { jar: writer.jar })
      expect((await reader.getJson<{ items: string[] }>('/cart')).items).toEqual(['apple'])
      reader.close()
    }
    writer.close()
  })

  it('an address removed from the name, whose node no longer answers, is removed from the cluster', async () => {
    const [a, b, c] = nodes as [AppNode, AppNode, AppNode]
    c.signal('SIGSTOP') // frozen: its port still accepts connections, so only a direct check can tell
    dns.setAddresses(HOSTS.slice(0, 2))
    await waitFor(
      'pod2 to be removed once its address vanished',
      async () => ((await aliveRoutes(a, { suspects: true })) === 'pod1' && (await aliveRoutes(b, { suspects: true })) === 'pod0' ? true : undefined),
      { timeoutMs: 15_000, intervalMs: 100, describe: () => `${tails(nodes)}\n${dns.output()}` },
    )
    const { body } = await a.status()
    expect(body?.members.map((m) => m.route)).toEqual(['pod1'])
    expect(body?.discovery).toEqual({ kind: 'dns', contacts: HOSTS.slice(0, 2).map((h) => `${h}:${clusterPort}`), settled: true })
    expect((body?.counters as Record<string, number> | undefined)?.['membership.leaves.failed']).toBe(1)
  })

  it('the resolver really is dnsmasq: the name is unknown to the system resolver', async () => {
    await expect(new Resolver({ timeout: 500, tries: 1 }).resolve4(NAME)).rejects.toThrow()
  })
})
