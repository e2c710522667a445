import type { Membership, MemberInfo } from '../membership/membership.js'
import type { Metrics } from '../metrics.js'
import type { MembershipEvent } from '../metrics-contract.js'
import type { FrameRejection } from '../transport/transport.js'
import type { ClusterEvent } from './session-cluster.js'

/** How many membership and start-up events `status().events` keeps. */
export const MAX_RECENT_EVENTS = 50

/** A rejected frame or connection, as the contract counts it: an authentication failure or a decode failure. */
export function countRejection(metrics: Metrics, reason: FrameRejection): void {
  switch (reason) {
    case 'decryption-failed':
    case 'replay':
    case 'bad-hello':
      metrics.cluster.authenticationFailures.labels(reason).inc()
      break
    case 'malformed':
    case 'frame-too-large':
      metrics.cluster.decodeFailures.labels(reason).inc()
      break
  }
}

/**
 * Count membership changes and hand each to `record` (the cluster's recent events). A member that left by saying
 * goodbye `left`; one whose process is gone or that failure detection gave up on was `removed`.
 */
export function observeMembership(
  membership: Membership,
  metrics: Metrics,
  record: (kind: ClusterEvent['kind'], member: MemberInfo, detail?: string) => void,
): Array<() => void> {
  const count = (event: MembershipEvent, member: MemberInfo, detail?: string) => {
    metrics.cluster.membershipEvents.labels(event).inc()
    record(event, member, detail)
  }
  return [
    membership.on('join', (m) => count('joined', m)),
    membership.on('suspect', (m) => count('suspected', m)),
    membership.on('alive', (m) => count('recovered', m)),
    membership.on('leave', (m, reason) => count(reason === 'left' ? 'left' : reason === 'replaced' ? 'replaced' : 'removed', m, reason)),
  ]
}
