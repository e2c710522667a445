import { afterAll } from 'vitest'
import { createSessionCluster } from '../../src/cluster/create-session-cluster.js'
import type { SessionCluster } from '../../src/cluster/session-cluster.js'
import { silentLogger } from '../../src/logger.js'

// What the Express and the Fastify adapters' tests share (their own support/nodes.ts re-export it).

export const SECRET = 'test secret, long enough to sign cookies'

/** Poll `predicate` until it holds; fail after `timeoutMs` (no sleep-and-hope). */
export async function waitFor(predicate: () => boolean | Promise<boolean>, { timeoutMs = 10_000, stepMs = 20 } = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await predicate()) return
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, stepMs))
  }
}

/** The session id inside a signed cookie pair `sid=s%3A<id>.<sig>`. */
export function idOf(cookie: string): string {
  const value = decodeURIComponent(cookie.slice(cookie.indexOf('=') + 1))
  return value.slice(2, value.lastIndexOf('.'))
}

const MEMBERSHIP_MESSAGES = new Set(['hb', 'ping', 'pong', 'bye'])

/** Session messages this node sent (channel.sent.<type>), membership heartbeats left out. */
export function sessionMessagesSent(cluster: SessionCluster): number {
  let sum = 0
  for (const [name, value] of Object.entries(cluster.status().counters)) {
    const m = /^channel\.sent\.(.+)$/.exec(name)
    if (m && !MEMBERSHIP_MESSAGES.has(m[1]!)) sum += value
  }
  return sum
}

/**
 * One node on loopback TCP for a file's store-compliance suites: started on first use (a start waits ~1 s
 * to discover peers) and stopped after the file; each suite's test clears it.
 */
export function soloCluster(): () => Promise<SessionCluster> {
  let cluster: SessionCluster | undefined
  afterAll(() => cluster?.stop())
  return async () => {
    cluster ??= createSessionCluster({ route: 'solo', port: 0, expiryIntervalMs: 100, accessFlushIntervalMs: 100, logger: silentLogger })
    await cluster.start()
    return cluster
  }
}
