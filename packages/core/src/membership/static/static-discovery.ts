import { type Address, parseAddress } from '../../member.js'
import type { Discovery } from '../discovery.js'

export interface StaticDiscoveryInit {
  /** `host:port` of the other nodes (Tomcat's StaticMember list). This node's own entry is ignored. @default [] */
  members?: ReadonlyArray<string | Address>
}

/**
 * A configured list of members (Tomcat's StaticMembershipInterceptor). A starting node waits for every listed member
 * that does not refuse connections, so a restarted node never serves before it pulled the sessions.
 *
 * @example
 * heartbeatMembership({ channel, route: 'node1', discovery: staticDiscovery({ members: ['10.0.0.2:4000'] }) })
 */
export function staticDiscovery(init: StaticDiscoveryInit = {}): Discovery {
  const members = (init.members ?? []).map((m) => parseAddress(m, 'cluster member'))
  return {
    kind: 'static',
    start: async () => {},
    stop: async () => {},
    contacts: () => members,
    settled: () => true,
  }
}
