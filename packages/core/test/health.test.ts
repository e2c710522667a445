import { describe, expect, it } from 'vitest'
import { clusterHealth } from '../src/adapter/health.js'
import type { Clock } from '../src/clock/clock.js'
import type { ClusterStatus, SessionCluster } from '../src/cluster/session-cluster.js'
import { InvalidParametersError } from '../src/errors.js'
import { clustersStoppedAfterEach } from './support/session-cluster.js'

const cluster = clustersStoppedAfterEach()

/** A clock whose time and interval the test moves by hand, so a blocked loop can be played without blocking. */
function handClock() {
  let now = 0
  let tick: (() => void) | undefined
  const clock: Clock = {
    now: () => now,
    monotonic: () => now,
    setTimeout: () => ({ cancel() {} }),
    setInterval: (fn) => {
      tick = fn
      return { cancel: () => void (tick = undefined) }
    },
  }
  return { clock, at: (ms: number) => void (now = ms), tick: () => tick?.(), running: () => tick !== undefined }
}

function fakeNode(status: Partial<ClusterStatus>): SessionCluster {
  const full = { route: 'node1', ready: true, stateTransfer: 'complete', rejectedBy: [], ...status }
  return { route: 'node1', status: () => full } as unknown as SessionCluster
}

describe('health', () => {
  it('is ready once a real node joined and finished state transfer', async () => {
    const { nodes } = await cluster(2)
    const health = clusterHealth(nodes[0]!)
    expect(health.ready()).toEqual({ status: 200, body: { ok: true, route: 'node1', reasons: [] } })
    health.close()
  })

  it('is not ready while joining, or while every peer refuses it (wrong secret)', () => {
    expect(clusterHealth(fakeNode({ ready: false, stateTransfer: 'pending' })).ready()).toMatchObject({
      status: 503,
      body: { ok: false, reasons: ['joining: state transfer in progress'] },
    })
    const refused = fakeNode({
      ready: false,
      rejectedBy: [{ address: '127.0.0.1:4001', reason: 'wrong-secret', message: 'rejected by 127.0.0.1:4001: wrong secret or cluster name', detail: '' }],
    })
    expect(clusterHealth(refused).ready()).toMatchObject({ status: 503, body: { reasons: ['rejected by 127.0.0.1:4001: wrong secret or cluster name'] } })
    // A node some peer refuses but others accept is serving: ready.
    expect(clusterHealth(fakeNode({ rejectedBy: refused.status().rejectedBy })).ready().status).toBe(200)
    expect(clusterHealth(() => undefined).ready()).toMatchObject({ status: 503, body: { reasons: ['the session cluster is not set up yet'] } })
  })

  it('is live while the event loop turns, and not once a tick comes far too late or never', () => {
    const { clock, at, tick, running } = handClock()
    const health = clusterHealth(fakeNode({}), { clock, maxEventLoopDelayMs: 5_000 })
    at(1_000)
    tick()
    expect(health.live().status).toBe(200)
    at(8_000) // the next tick, due at 2 000, ran 6 s late: something held the loop
    tick()
    expect(health.live()).toMatchObject({ status: 503, body: { reasons: ['event loop blocked for 6000 ms'] } })
    at(9_000)
    tick()
    expect(health.live().status).toBe(200)
    at(20_000) // no tick since 9 000
    expect(health.live()).toMatchObject({ status: 503, body: { reasons: ['event loop has not turned for 11000 ms'] } })
    health.close()
    expect(running()).toBe(false)
  })

  it('refuses bad options by name', () => {
    expect(() => clusterHealth(fakeNode({}), { maxEventLoopDelayMs: -1 })).toThrow(/maxEventLoopDelayMs/)
    expect(() => clusterHealth(fakeNode({}), { maxDelay: 1 } as never)).toThrow(/maxDelay/)
    expect(() => clusterHealth({} as never)).toThrow(InvalidParametersError)
  })
})
