// The cart examples as real processes (two express-cart nodes and one fastify-cart node, one cluster) behind a
// real round-robin nginx, each node's cluster port reached by the others only through a TCP fault proxy in front
// of it. Browsers, each with its own session, write and read one attribute through nginx while the test resets
// links with bytes in flight, drops one direction of one link, freezes a node (SIGSTOP) and kills one (SIGKILL,
// restarted on its ports). The history checker of the in-memory fault suite then says whether any read missed
// an acknowledged write, and every node, asked directly, must end with the same value for every session.
// Runs the built packages (`pnpm test` builds first); nginx missing skips it loudly (fails when CI is set).
import { mkdirSync, writeFileSync } from 'node:fs'
import { isDeepStrictEqual } from 'node:util'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it, onTestFailed } from 'vitest'
import { checkHistory, type Cut } from '../../packages/core/test/support/history-checker.js'
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.js'
import {
  AppNode,
  type AppName,
  assertBuilt,
  freePorts,
  HttpClient,
  NGINX_MISSING,
  type Nginx,
  sleep,
  startNginx,
  tails,
  waitFor,
  waitMembership,
} from '../support/index.js'
import { nginxAvailability } from '../support/nginx.js'
import { getAttr, History, SessionClient } from './session-history.js'

const APPS: AppName[] = ['express-cart', 'express-cart', 'fastify-cart']
const ROUTES = ['node1', 'node2', 'node3']
// replication-faults.test.ts's timing: failure detection in ~2.5 s instead of the defaults' ~10 s.
const TIMING = { heartbeatIntervalMs: 100, suspectTimeoutMs: 600, verifyTimeoutMs: 300, ackTimeoutMs: 1_000 }
/** Long enough for each side to declare the other failed (see the checker); every fault here is shorter. */
const DETECTION_MS = 2 * (TIMING.suspectTimeoutMs + 2 * TIMING.verifyTimeoutMs) + TIMING.heartbeatIntervalMs
/** How long the one-way loss and the freeze last: past the ack timeout, short of failure detection. */
const FAULT_MS = 1_500
const CLIENTS = 6
/** Acknowledged writes every browser must get before the first fault and after each one (the test's progress). */
const ACKS_PER_PHASE = 10
/** Far above any answer here (a frozen node answers once it is thawed): a timeout is a failure of the test. */
const REQUEST_TIMEOUT_MS = 15_000
const HISTORY_DIR = fileURLToPath(new URL('../../test-output/faults/', import.meta.url))

/** Node i's cluster transport listens on 127.0.0.(22+i); its fault proxy stands on 127.0.0.(32+i), same port. */
const clusterHost = (i: number) => `127.0.0.${22 + i}`
const proxyHost = (i: number) => `127.0.0.${32 + i}`

/**
 * The example's round-robin config, changed in two ways for a history check:
 * - a GET goes to the next node only on a connection error or a 503 (a node that cannot confirm its copy, or is
 *   still starting), not on `timeout`: a request that timed out may still be served by the node that has it (a
 *   frozen node thaws and applies it) after nginx replayed it on another node and the browser moved on to its next
 *   write, so one write would apply twice, the second time out of order, and the checker would blame the cluster;
 * - a node that failed once stays in rotation (max_fails=0): otherwise one 503 takes it out for fail_timeout, a
 *   freeze takes out all three, and nginx answers 502 itself meanwhile: the checker would see nginx, not the
 *   cluster, while the faults last.
 */
function forHistoryCheck(config: string): string {
  const edited = config.replace(/^(\s*proxy_next_upstream)\s[^;]*;/m, '$1 error http_503;').replaceAll(' max_fails=3 ', ' max_fails=0 ')
  if (!edited.includes('proxy_next_upstream error http_503;') || (edited.match(/ max_fails=0 /g) ?? []).length !== 3) {
    throw new Error('the round-robin template changed: update forHistoryCheck')
  }
  return edited
}

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch((err) => console.error('cleanup failed:', err))
})

/** Three example nodes, each behind its fault proxy, all ready and seeing each other through the proxies. */
async function startNodesBehindProxies(): Promise<{ nodes: AppNode[]; proxies: FaultProxy[] }> {
  for (const app of new Set(APPS)) assertBuilt(app)
  const ports = await freePorts(2 * APPS.length)
  const httpPorts = ports.slice(0, APPS.length)
  const clusterPorts = ports.slice(APPS.length)
  const proxies = await Promise.all(
    clusterPorts.map((port, i) => startFaultProxy({ target: { host: clusterHost(i), port }, listenHost: proxyHost(i), listenPort: port })),
  )
  for (const p of proxies) cleanups.push(() => p.close())
  const members = clusterPorts.map((port, i) => `${proxyHost(i)}:${port}`)
  const nodes = APPS.map(
    (app, i) =>
      new AppNode({
        app,
        route: ROUTES[i]!,
        port: httpPorts[i]!,
        clusterPort: clusterPorts[i]!,
        members,
        replication: 'sync',
        env: {
          CLUSTER_HOST: clusterHost(i),
          CLUSTER_ADVERTISE_HOST: proxyHost(i),
          CLUSTER_HEARTBEAT_INTERVAL_MS: String(TIMING.heartbeatIntervalMs),
          CLUSTER_SUSPECT_TIMEOUT_MS: String(TIMING.suspectTimeoutMs),
          CLUSTER_VERIFY_TIMEOUT_MS: String(TIMING.verifyTimeoutMs),
          CLUSTER_ACK_TIMEOUT_MS: String(TIMING.ackTimeoutMs),
        },
      }),
  )
  for (const n of nodes) cleanups.push(() => n.dispose())
  await Promise.all(nodes.map((n) => n.start()))
  await waitMembership(nodes)
  return { nodes, proxies }
}

/**
 * What every node answers, asked directly with each browser's cookie, once they all answer and agree (or what
 * they answered last when they do not agree within the deadline: the assertions then show the difference).
 */
async function finalState(nodes: AppNode[], clients: SessionClient[]): Promise<Array<Record<string, Record<string, unknown> | null>>> {
  const direct = clients.map((c) => nodes.map((n) => new HttpClient(n.url, { jar: c.http.jar.clone() })))
  try {
    const deadline = Date.now() + 10_000
    for (;;) {
      const answers = await Promise.all(direct.map((row) => Promise.all(row.map((http) => getAttr(http, '/attr?key=x', 5_000)))))
      const attrs = answers.map((row) => row.map((a) => (typeof a === 'number' ? null : a.attrs)))
      const agreed = attrs.every((row) => row.every((a) => a !== null && isDeepStrictEqual(a, row[0])))
      if (agreed || Date.now() > deadline) return nodes.map((_, n) => Object.fromEntries(clients.map((c, i) => [c.label, attrs[i]![n]!])))
      await sleep(100)
    }
  } finally {
    for (const row of direct) for (const http of row) http.close()
  }
}

const { skip, failInCi } = nginxAvailability()
if (failInCi) {
  it('needs nginx (CI is set, so a missing nginx is a failure, not a skip)', () => {
    throw new Error(NGINX_MISSING)
  })
}

describe.skipIf(skip)('the cart examples behind nginx, cluster links through fault proxies', () => {
  it('resets with bytes in flight, one-way loss, a frozen node and a killed one: no read misses an acknowledged write', async () => {
    const { nodes, proxies } = await startNodesBehindProxies()
    let nginx: Nginx | undefined
    onTestFailed(() => {
      console.error(`--- node output ---\n${tails(nodes, 60)}`)
      if (nginx) console.error(`--- nginx error.log ---\n${nginx.errorLog().slice(-4000)}`)
    })
    // Peers know each node by its proxy's address: cluster traffic cannot go around the proxies.
    for (const [i, node] of nodes.entries()) {
      const { body } = await node.status()
      expect(body?.address).toBe(`${proxyHost(i)}:${node.spec.clusterPort}`)
      const others = nodes.flatMap((n, j) => (j === i ? [] : [`${proxyHost(j)}:${n.spec.clusterPort}`]))
      expect(body?.members.map((m) => m.address).sort()).toEqual(others.sort())
    }
    nginx = await startNginx({ mode: 'round-robin', nodes: nodes.map((n) => n.httpAddress), routes: ROUTES, edit: forHistoryCheck })
    const front = nginx
    cleanups.push(() => front.stop())

    const history = new History(ROUTES)
    const now = () => history.now()
    const cuts: Cut[] = []
    const kills: Array<{ node: number; at: number }> = []
    const clients = Array.from({ length: CLIENTS }, (_, c) => new SessionClient(`c${c}`, front.url, history, REQUEST_TIMEOUT_MS))
    for (const c of clients) cleanups.push(async () => c.http.close())
    onTestFailed(() => {
      mkdirSync(HISTORY_DIR, { recursive: true })
      const file = `${HISTORY_DIR}example-faults-${Date.now()}.json`
      writeFileSync(file, JSON.stringify({ timing: TIMING, detectionMs: DETECTION_MS, cuts, kills, ops: history.ops }, null, 1))
      console.error(`history written to ${file}`)
    })
    // Every browser has its session (created and replicated) before any fault.
    for (const c of clients) {
      await waitFor(`${c.label}'s first acknowledged write`, async () => {
        await c.round()
        return c.ackedSince(-1) > 0 ? true : undefined
      })
    }

    let running = true
    const traffic = Promise.all(clients.map((c) => c.run(() => running)))
    /** Browsers served: every one of them has had ACKS_PER_PHASE writes invoked since `since` acknowledged. */
    const served = (since: number, what: string) =>
      waitFor(`${ACKS_PER_PHASE} acknowledged writes of every browser ${what}`, () => (clients.every((c) => c.ackedSince(since) >= ACKS_PER_PHASE) ? true : undefined), {
        timeoutMs: 15_000,
        describe: () => tails(nodes),
      })
    await served(-1, 'before the faults')

    /**
     * A fault ended: wait until the membership is whole again, every node has answered a read since (through
     * nginx: the reads that must not miss what was written while the fault lasted) and every browser was served.
     */
    const recovered = async (what: string) => {
      const since = now()
      await waitMembership(nodes)
      const answered = (n: number) => history.ops.some((o) => o.kind === 'read' && o.ok && o.node === n && o.invokeAt > since)
      await waitFor(`every node to answer a read after ${what}`, () => (nodes.every((_, n) => answered(n)) ? true : undefined), {
        timeoutMs: 10_000,
        describe: () => tails(nodes),
      })
      await served(since, `after ${what}`)
    }
    // proxies[to] carries what every other node sends to node `to`; `from` picks the sender by its address.
    const link = (from: number, to: number) => ({ proxy: proxies[to]!, options: { from: clusterHost(from) } })

    try {
      // 1. Resets with bytes in flight, once on every link: hold its bytes for 50 ms, reset it under them.
      for (const [from, to] of [
        [0, 1],
        [1, 2],
        [2, 0],
        [1, 0],
        [2, 1],
        [0, 2],
      ] as const) {
        const { proxy, options } = link(from, to)
        proxy.delay(50, options)
        await sleep(30)
        proxy.reset(options)
        proxy.heal()
        await sleep(100)
      }
      await recovered('the resets')

      // 2. One-way loss node1 → node2 (node2's frames still reach node1, node3 hears both), shorter than detection.
      const oneWay = link(0, 1)
      const droppedBefore = oneWay.proxy.stats().bytesDropped.toTarget
      let start = now()
      oneWay.proxy.blackhole('to-target', oneWay.options)
      await sleep(FAULT_MS)
      oneWay.proxy.heal()
      cuts.push({ from: 0, to: 1, start, end: now() })
      expect(oneWay.proxy.stats().bytesDropped.toTarget, 'the one-way loss dropped cluster traffic').toBeGreaterThan(droppedBefore)
      await recovered('the one-way loss')

      // 3. node2 frozen (SIGSTOP) past the ack timeout: silent both ways, requests nginx gave it wait for it.
      const frozen = 1
      start = now()
      nodes[frozen]!.signal('SIGSTOP')
      await sleep(FAULT_MS)
      nodes[frozen]!.signal('SIGCONT')
      const end = now()
      for (const other of [0, 2]) cuts.push({ from: other, to: frozen, start, end }, { from: frozen, to: other, start, end })
      await recovered('the freeze')

      // 4. node3 (the Fastify one) SIGKILLed, restarted on the same ports: ready only once state transfer is done.
      const victim = 2
      kills.push({ node: victim, at: now() })
      const exit = await nodes[victim]!.kill('SIGKILL')
      expect(exit.signal).toBe('SIGKILL')
      const restarted = await nodes[victim]!.start()
      expect(restarted.sessions, 'the restarted node received every session before ready').toBeGreaterThanOrEqual(CLIENTS)
      await recovered('the restart')
    } finally {
      running = false
      await traffic
    }

    const final = await finalState(nodes, clients)
    const violations = checkHistory(history.ops, final, { detectionMs: DETECTION_MS, healMs: 2 * TIMING.heartbeatIntervalMs, cuts, kills })
    const { writes, acked, reads, okReads } = history.summary()
    console.log(
      `[example faults] ${writes} writes (${acked} acknowledged), ${reads} reads (${okReads} answered), ` +
        `failed by status ${JSON.stringify(Object.fromEntries(history.failures))}, ${violations.length} violations, ${Math.round(now())} ms`,
    )
    expect(violations).toEqual([])
    expect(history.anomalies).toEqual([])
    expect(final[1]).toEqual(final[0])
    expect(final[2]).toEqual(final[0])
    for (const c of clients) expect(final[0]![c.label], `${c.label}'s session on every node`).toEqual({ x: expect.any(String) })
    // Five phases (before the faults, after each of the four) of ACKS_PER_PHASE acknowledged writes per browser,
    // each write followed by a read that may fail (503) but hardly ever does once a fault has healed.
    expect(acked).toBeGreaterThanOrEqual(5 * ACKS_PER_PHASE * CLIENTS)
    expect(okReads).toBeGreaterThanOrEqual(5 * ACKS_PER_PHASE * CLIENTS)
  }, 60_000)
})
