import { type HeartbeatMembershipInit, heartbeatMembership } from '../heartbeat-membership.js'
import type { Membership } from '../membership.js'
import { type StaticDiscoveryInit, staticDiscovery } from './static-discovery.js'

export type StaticMembershipInit = Omit<HeartbeatMembershipInit, 'discovery'> & StaticDiscoveryInit

/** Membership from a configured list: `heartbeatMembership` over `staticDiscovery`. */
export function staticMembership(init: StaticMembershipInit): Membership {
  const { members, ...rest } = init
  return heartbeatMembership({ ...rest, discovery: staticDiscovery({ members }) })
}
