import type { Clock, TimerHandle } from '../clock/clock.js'
import { systemClock } from '../clock/system-clock.js'
import type { SessionCluster } from '../cluster/session-cluster.js'
import { InvalidParametersError } from '../errors.js'
import { describeValue, refuseUnknownOptions } from '../option-checks.js'

/** What a health route answers: the HTTP status to send and a JSON body saying why. */
export interface HealthAnswer {
  status: 200 | 503
  body: { ok: boolean; route: string; reasons: string[] }
}

export interface HealthOptions {
  /**
   * Liveness fails when the event loop has not turned for this long (a timer that should fire every second
   * fired this late, or not at all): the process is wedged, and restarting it is the cure. @default 10000
   */
  maxEventLoopDelayMs?: number
  /** @default systemClock */
  clock?: Clock
}

export interface ClusterHealth {
  /** Ready to take traffic: joined, state transfer done, and not shut out by its peers (wrong secret...). */
  ready(): HealthAnswer
  /** Alive: the event loop keeps turning. Says nothing of the cluster (a lonely node is alive, not ready). */
  live(): HealthAnswer
  /** Stop the event-loop ticker. */
  close(): void
}

const TICK_MS = 1_000
const HEALTH_OPTIONS = new Set(['maxEventLoopDelayMs', 'clock'])

/**
 * Readiness and liveness of a cluster node, for the framework adapters' health routes (Kubernetes probes, a
 * balancer's health check). Ready is what a balancer asks ("send me users?"), live is what a supervisor asks
 * ("restart me?"): a node still pulling state is alive but not ready.
 */
export function clusterHealth(node: SessionCluster | (() => SessionCluster | undefined), options: HealthOptions = {}): ClusterHealth {
  // A getter: a Fastify route registered before the session plugin finds the node at request time.
  const clusterOf = typeof node === 'function' ? node : () => node
  if (typeof node !== 'function' && typeof node?.status !== 'function') {
    throw new InvalidParametersError(`clusterHealth needs a cluster node (sessions.cluster), got ${describeValue(node)}`)
  }
  if (options === null || typeof options !== 'object') throw new InvalidParametersError(`health options must be an object, got ${describeValue(options)}`)
  refuseUnknownOptions(options, HEALTH_OPTIONS, { what: 'health option' })
  const maxDelay = options.maxEventLoopDelayMs ?? 10_000
  if (typeof maxDelay !== 'number' || !(maxDelay > 0) || !Number.isFinite(maxDelay)) {
    throw new InvalidParametersError(`maxEventLoopDelayMs must be a positive number of ms, got ${describeValue(maxDelay)}`)
  }
  const clock = options.clock ?? systemClock
  let lastTick = clock.monotonic()
  let lastLateness = 0
  // Clock timers are unref'ed: this never keeps a process up.
  let timer: TimerHandle | undefined = clock.setInterval(() => {
    const now = clock.monotonic()
    lastLateness = Math.max(0, now - lastTick - TICK_MS)
    lastTick = now
  }, TICK_MS)
  const answer = (reasons: string[]): HealthAnswer => ({
    status: reasons.length === 0 ? 200 : 503,
    body: { ok: reasons.length === 0, route: clusterOf()?.route ?? '', reasons },
  })
  return {
    ready() {
      const cluster = clusterOf()
      if (!cluster) return answer(['the session cluster is not set up yet'])
      const status = cluster.status()
      const reasons: string[] = []
      if (status.stateTransfer === 'pending') reasons.push('joining: state transfer in progress')
      for (const r of status.rejectedBy) reasons.push(r.message)
      if (reasons.length === 0 && !status.ready) reasons.push('not ready')
      // rejectedBy alone does not make a node unready (other members may accept it): only report it when it is.
      return answer(status.ready ? [] : reasons)
    },
    live() {
      const silentFor = clock.monotonic() - lastTick
      const reasons: string[] = []
      if (lastLateness > maxDelay) reasons.push(`event loop blocked for ${Math.round(lastLateness)} ms`)
      else if (silentFor > TICK_MS + maxDelay) reasons.push(`event loop has not turned for ${Math.round(silentFor)} ms`)
      return answer(reasons)
    },
    close() {
      timer?.cancel()
      timer = undefined
    },
  }
}
