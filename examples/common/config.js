import cluster from 'node:cluster'
import { createHash } from 'node:crypto'

// The example contract (root README, "Running a cluster by hand"): configuration from the environment, shared by the
// Express and Fastify cart apps so both read exactly the same variables with the same defaults.

const MANAGERS = ['delta', 'backup']
const DISCOVERIES = ['static', 'multicast', 'dns', 'local']
const REPLICATION_MODES = ['sync', 'async']
/** REBIND (an extra outside the contract): when a node takes over a session whose route names another node. */
const REBIND_MODES = { failover: 'failover', always: 'always', off: false }

// Optional extras outside the contract: the cluster's timing, for tests that inject faults and need failure
// detection in hundreds of milliseconds rather than seconds. Unset, the core's defaults apply.
const TIMING_VARIABLES = {
  CLUSTER_HEARTBEAT_INTERVAL_MS: 'heartbeatIntervalMs',
  CLUSTER_SUSPECT_TIMEOUT_MS: 'suspectTimeoutMs',
  CLUSTER_VERIFY_TIMEOUT_MS: 'verifyTimeoutMs',
  CLUSTER_ACK_TIMEOUT_MS: 'ackTimeoutMs',
}

/** Read and validate the example's environment. Throws an Error with a readable message on bad input. */
export function readConfig(env = process.env) {
  const port = toPort(env.PORT || '3000', 'PORT')
  const discoveryKind = env.CLUSTER_DISCOVERY || 'static'
  if (!DISCOVERIES.includes(discoveryKind)) {
    throw new Error(`CLUSTER_DISCOVERY must be one of ${DISCOVERIES.join(', ')}, got "${discoveryKind}"`)
  }
  const route = env.ROUTE || (discoveryKind === 'local' ? workerRoute(env) : 'node1')
  const clusterHost = env.CLUSTER_HOST || '127.0.0.1'
  const clusterPort = toPort(env.CLUSTER_PORT || '4000', 'CLUSTER_PORT')
  // Own entry is ignored by the cluster itself; empty means "alone".
  const members = (env.CLUSTER_MEMBERS ?? '')
    .split(',')
    .map((m) => m.trim())
    .filter(Boolean)
  const clusterSecret = env.CLUSTER_SECRET || undefined
  const replication = env.REPLICATION || 'sync'
  if (!REPLICATION_MODES.includes(replication)) {
    throw new Error(`REPLICATION must be one of ${REPLICATION_MODES.join(', ')}, got "${replication}"`)
  }
  const rebindName = env.REBIND || 'failover'
  if (!Object.hasOwn(REBIND_MODES, rebindName)) {
    throw new Error(`REBIND must be one of ${Object.keys(REBIND_MODES).join(', ')}, got "${rebindName}"`)
  }
  const manager = env.MANAGER || 'delta'
  if (!MANAGERS.includes(manager)) throw new Error(`MANAGER must be one of ${MANAGERS.join(', ')}, got "${manager}"`)
  // Outside the contract: copies of each session besides its primary's, with MANAGER=backup.
  const backups = env.BACKUPS ? toCount(env.BACKUPS, 'BACKUPS') : undefined
  if (backups !== undefined && manager !== 'backup') throw new Error('BACKUPS applies to MANAGER=backup only')
  // Outside the contract too: the address peers dial when it is not CLUSTER_HOST (a proxy or NAT in between).
  const advertiseHost = env.CLUSTER_ADVERTISE_HOST || undefined
  const discovery = readDiscovery(discoveryKind, env)
  if (discoveryKind !== 'static' && members.length > 0) {
    throw new Error(`CLUSTER_MEMBERS lists static members; CLUSTER_DISCOVERY=${discoveryKind} finds them itself: set one or the other`)
  }
  const timing = {}
  for (const [name, option] of Object.entries(TIMING_VARIABLES)) {
    if (env[name]) timing[option] = toMilliseconds(env[name], name)
  }

  return {
    // HTTP listens on loopback by default (nginx runs on the same machine); HOST is an optional extra
    // for containers, outside the contract.
    host: env.HOST || '127.0.0.1',
    port,
    route,
    cluster: {
      route,
      host: clusterHost,
      port: clusterPort,
      ...(advertiseHost ? { advertiseHost } : {}),
      members,
      ...(discovery ? { discovery } : {}),
      ...(env.CLUSTER_AUTO_BIND ? { autoBind: toWholeNumber(env.CLUSTER_AUTO_BIND, 'CLUSTER_AUTO_BIND') } : {}),
      ...(env.CLUSTER_NAME ? { clusterName: env.CLUSTER_NAME } : {}),
      secret: clusterSecret,
      replication,
      manager,
      ...(backups ? { backups } : {}),
      ...timing,
    },
    manager,
    // 'failover' suits any balancer; behind a sticky one 'always' rebinds on the very first answer after the owner
    // died, even before this node has seen the owner's connection drop (the balancer only sends a session's
    // request elsewhere when its owner failed).
    rebind: REBIND_MODES[rebindName],
    // Cookie signing secret: every node must share it, or a node cannot read another node's cookie.
    // Derived from CLUSTER_SECRET when given (hashed: a separate key, and long enough for the Fastify
    // plugin's 32-character minimum); a fixed string is fine for a loopback example.
    cookieSecret: clusterSecret
      ? createHash('sha256').update(`session-cluster example cookie:${clusterSecret}`).digest('base64url')
      : 'session-cluster example cookie secret (change me)',
  }
}

/**
 * CLUSTER_DISCOVERY's options: `dns` needs CLUSTER_DNS_NAME; the extras CLUSTER_DNS_SERVERS (comma-separated
 * `ip[:port]`), CLUSTER_DNS_INTERVAL_MS, CLUSTER_DNS_SRV=true, CLUSTER_MULTICAST_ADDRESS, CLUSTER_MULTICAST_PORT and
 * CLUSTER_MULTICAST_INTERFACE tune them. `static` (the default) is the CLUSTER_MEMBERS list: no option.
 */
function readDiscovery(kind, env) {
  if (kind === 'static') return undefined
  if (kind === 'local') return { kind }
  if (kind === 'multicast') {
    return {
      kind,
      ...(env.CLUSTER_MULTICAST_ADDRESS ? { address: env.CLUSTER_MULTICAST_ADDRESS } : {}),
      ...(env.CLUSTER_MULTICAST_PORT ? { port: toPort(env.CLUSTER_MULTICAST_PORT, 'CLUSTER_MULTICAST_PORT') } : {}),
      ...(env.CLUSTER_MULTICAST_INTERFACE ? { interface: env.CLUSTER_MULTICAST_INTERFACE } : {}),
    }
  }
  if (!env.CLUSTER_DNS_NAME) throw new Error('CLUSTER_DISCOVERY=dns needs CLUSTER_DNS_NAME (e.g. a Kubernetes headless service name)')
  const servers = (env.CLUSTER_DNS_SERVERS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  return {
    kind,
    name: env.CLUSTER_DNS_NAME,
    ...(servers.length > 0 ? { servers } : {}),
    ...(env.CLUSTER_DNS_INTERVAL_MS ? { intervalMs: toMilliseconds(env.CLUSTER_DNS_INTERVAL_MS, 'CLUSTER_DNS_INTERVAL_MS') } : {}),
    ...(env.CLUSTER_DNS_SRV === 'true' ? { srv: true } : {}),
  }
}

/**
 * A worker's own route when workers share one environment (PM2 `-i max`, node:cluster): PM2's instance number, else
 * the node:cluster worker id, else the process id. Each worker's sessions end in its own route.
 */
function workerRoute(env) {
  if (env.NODE_APP_INSTANCE !== undefined && /^\d+$/.test(env.NODE_APP_INSTANCE)) return `w${env.NODE_APP_INSTANCE}`
  if (cluster.isWorker && cluster.worker) return `w${cluster.worker.id}`
  return `w${process.pid}`
}

function toWholeNumber(value, name) {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number, got "${value}"`)
  return n
}

function toPort(value, name) {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${name} must be a port number, got "${value}"`)
  return n
}

function toCount(value, name) {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a whole number of at least 1, got "${value}"`)
  return n
}

function toMilliseconds(value, name) {
  const n = Number(value)
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive whole number of milliseconds, got "${value}"`)
  return n
}

/**
 * The example apps' start-up: the configuration from the environment, or exit 1 with the reason (a bad
 * option is an error at start-up, never a crash at the first request).
 */
export function configOrExit(env = process.env) {
  let config
  try {
    config = readConfig(env)
  } catch (err) {
    console.error(`configuration error: ${err.message}`)
    process.exit(1)
  }
  return config
}
