import { InvalidParametersError } from '../errors.js'
import { describeValue, refuseUnknownOptions } from '../option-checks.js'
import type { Discovery } from './discovery.js'
import { type DnsDiscoveryInit, dnsDiscovery } from './dns/dns-discovery.js'
import { type LocalDiscoveryInit, localDiscovery } from './local/local-discovery.js'
import { type MulticastDiscoveryInit, multicastDiscovery } from './multicast/multicast-discovery.js'
import { staticDiscovery } from './static/static-discovery.js'

/**
 * The cluster option `discovery`: where members come from, as plain data (so it can come from configuration), or a
 * `Discovery` of your own.
 * - `{ kind: 'static' }` (the default): the `members` list.
 * - `{ kind: 'local' }`: workers on one host (PM2, node:cluster); each binds the first free port of
 *   `port`..`port + autoBind` and probes that range for the others.
 * - `{ kind: 'dns', name }`: a Kubernetes headless service (see `DnsDiscoveryInit`).
 * - `{ kind: 'multicast' }`: UDP multicast announcements, Tomcat's defaults (see `MulticastDiscoveryInit`).
 */
export type DiscoveryOption =
  | { kind: 'static' }
  | ({ kind: 'local' } & Pick<LocalDiscoveryInit, 'probeIntervalMs' | 'probeTimeoutMs'>)
  | ({ kind: 'dns' } & DnsDiscoveryInit)
  | ({ kind: 'multicast' } & Omit<MulticastDiscoveryInit, 'secrets' | 'clusterName'>)
  | Discovery

export const DISCOVERY_KINDS = ['static', 'local', 'dns', 'multicast'] as const

/** What the other cluster options contribute to a discovery. */
export interface DiscoveryEnvironment {
  members: ReadonlyArray<string | { host: string; port: number }>
  /** The cluster port and the ports above it that `autoBind` lets workers take. */
  port: number
  autoBind: number
  /** Announcements are authenticated with keys derived from these (none: loopback only, unauthenticated). */
  secrets: readonly string[] | undefined
  clusterName: string
}

/** Build the discovery an option names, validated (a named error at start-up). */
export function createDiscovery(option: DiscoveryOption | undefined, env: DiscoveryEnvironment): Discovery {
  if (option === undefined) return staticDiscovery({ members: env.members })
  if (option === null || typeof option !== 'object') {
    throw new InvalidParametersError(`discovery must be an object like { kind: 'dns', name: '...' }, got ${describeValue(option)}`)
  }
  if (isDiscovery(option)) return option
  const { kind, ...rest } = option as { kind?: unknown }
  const only = (names: string[]) => refuseUnknownOptions(rest, new Set(names), { what: `${String(kind)} discovery option` })
  if (kind !== 'static' && env.members.length > 0) {
    throw new InvalidParametersError(`members lists static members; discovery ${describeValue(kind)} finds them itself: set one or the other`)
  }
  switch (kind) {
    case 'static':
      only([])
      return staticDiscovery({ members: env.members })
    case 'local': {
      only(['probeIntervalMs', 'probeTimeoutMs'])
      if (env.autoBind === 0) throw new InvalidParametersError('local discovery needs a port range: set autoBind (e.g. 100 for ports 4000-4100)')
      return localDiscovery({ ...(rest as LocalDiscoveryInit), firstPort: env.port, lastPort: env.port + env.autoBind })
    }
    case 'dns':
      only(['name', 'port', 'srv', 'intervalMs', 'servers', 'timeoutMs', 'stableAnswers', 'settleIntervalMs'])
      return dnsDiscovery(rest as DnsDiscoveryInit)
    case 'multicast':
      only(['address', 'port', 'interface', 'ttl', 'frequencyMs', 'dropTimeMs'])
      return multicastDiscovery({ ...(rest as MulticastDiscoveryInit), secrets: env.secrets, clusterName: env.clusterName })
    default:
      throw new InvalidParametersError(`discovery kind must be one of ${DISCOVERY_KINDS.join(', ')} (or a Discovery object), got ${describeValue(kind)}`)
  }
}

function isDiscovery(option: object): option is Discovery {
  const d = option as Partial<Discovery>
  return typeof d.start === 'function' && typeof d.contacts === 'function' && typeof d.settled === 'function'
}
