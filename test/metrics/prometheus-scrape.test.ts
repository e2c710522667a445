// A real Prometheus scrapes three example nodes (two Express, one Fastify): what it stores is what the cluster
// reports on /cluster/status, so the exporter, the text format and the names work end to end.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  AppNode,
  assertBuilt,
  freePorts,
  HttpClient,
  type PrometheusServer,
  PROMETHEUS_BIN,
  startPrometheus,
  systemToolMissing,
  tails,
  waitFor,
  waitMembership,
} from '../support/index.js'

const SESSIONS = 5
const skip = systemToolMissing(PROMETHEUS_BIN, 'prometheus')
let nodes: AppNode[] = []
let prometheus: PrometheusServer | undefined

beforeAll(async () => {
  if (skip) return
  assertBuilt('express-cart')
  assertBuilt('fastify-cart')
  const ports = await freePorts(6)
  const members = [3, 4, 5].map((i) => `127.0.0.1:${ports[i]}`)
  nodes = (['express-cart', 'fastify-cart', 'express-cart'] as const).map(
    (app, i) => new AppNode({ app, route: `node${i + 1}`, port: ports[i]!, clusterPort: ports[3 + i]!, members, replication: 'sync' }),
  )
  await Promise.all(nodes.map((n) => n.start()))
  await waitMembership(nodes)
  prometheus = await startPrometheus(nodes.map((n) => n.httpAddress))
}, 60_000)

afterAll(async () => {
  await prometheus?.stop()
  await Promise.all(nodes.map((n) => n.dispose()))
})

/** One query's values by scrape target (`instance` is the node's HTTP address). */
async function byInstance(promql: string): Promise<Map<string, number>> {
  const result = await prometheus!.query(promql)
  return new Map(result.map((r) => [r.labels.instance!, r.value]))
}

describe.skipIf(skip)('Prometheus scraping three example nodes', () => {
  it('stores the session count and the frame counters each node reports', async () => {
    for (let i = 0; i < SESSIONS; i++) {
      const client = new HttpClient(nodes[i % 3]!.url)
      expect((await client.get(`/cart?add=item${i}`)).status).toBe(200)
    }
    // What the nodes say now (replication is sync: every node already holds every session).
    const reported = await Promise.all(nodes.map(async (n) => (await n.status()).body!))
    for (const status of reported) expect(status.sessions).toBe(SESSIONS)
    const rdSent = reported.map((s) => (s.counters as Record<string, number>)['channel.sent.rd'] ?? 0)
    expect(rdSent.reduce((a, b) => a + b)).toBeGreaterThanOrEqual(SESSIONS * 2) // each save went to two members

    // Prometheus scrapes every second: wait until its latest samples show the same numbers.
    const expected = new Map(nodes.map((n, i) => [n.httpAddress, { sessions: reported[i]!.sessions, rdSent: rdSent[i]! }]))
    await waitFor(
      'Prometheus to hold the values the nodes report',
      async () => {
        const up = await byInstance('up{job="session-cluster"}')
        const sessions = await byInstance('session_cluster_sessions')
        const frames = await byInstance('session_cluster_frames_total{type="rd",direction="sent"}')
        for (const [instance, want] of expected) {
          if (up.get(instance) !== 1 || sessions.get(instance) !== want.sessions || frames.get(instance) !== want.rdSent) return undefined
        }
        return true
      },
      { timeoutMs: 20_000, intervalMs: 250, describe: () => `${prometheus!.tail()}\n${tails(nodes)}` },
    )

    // The cluster-wide view a dashboard would draw from the same series.
    const [received] = await prometheus!.query('sum(session_cluster_frames_total{type="rd",direction="received"})')
    expect(received!.value).toBe(rdSent.reduce((a, b) => a + b))
    const [alive] = await prometheus!.query('min(session_cluster_members{state="alive"})')
    expect(alive!.value).toBe(2)
    const latency = await prometheus!.query('session_cluster_replication_latency_seconds_count')
    expect(latency.reduce((sum, r) => sum + r.value, 0)).toBe(SESSIONS)
  })

  it('serves the health routes on every node', async () => {
    for (const node of nodes) {
      for (const path of ['/health/ready', '/health/live']) {
        const res = await fetch(`${node.url}${path}`)
        expect(res.status, `${node.route} ${path}`).toBe(200)
        expect(await res.json()).toMatchObject({ ok: true, route: node.route })
      }
    }
  })
})
