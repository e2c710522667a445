import { Channel } from '../channel/channel.js'
import { systemClock } from '../clock/system-clock.js'
import { cborCodec } from '../codec/cbor-codec.js'
import { aesGcmProtector, plaintextProtector, weakSecretReason } from '../crypto/index.js'
import { InsecureConfigurationError, InvalidParametersError } from '../errors.js'
import { peerNamingLogger, rateLimitedLogger } from '../log-hygiene.js'
import { childLogger, silentLogger } from '../logger.js'
import { addressKey, isLoopbackHost, validateHost, validatePort, validateRoute } from '../member.js'
import { createDiscovery } from '../membership/discovery-option.js'
import { heartbeatMembership, newIncarnationId } from '../membership/heartbeat-membership.js'
import { Metrics } from '../metrics.js'
import { describeValue, refuseUnknownOptions } from '../option-checks.js'
import { WARNING_INTERVAL_MS } from '../throttled-warning.js'
import { tcpTransport } from '../transport/tcp/index.js'
import { CLUSTER_DEFAULTS, CLUSTER_OPTION_NAMES, NUMERIC_CLUSTER_OPTIONS, replicationPlan, type SessionClusterInit } from './options.js'
import { type ClusterSettings, ReplicatedSessionCluster } from './replicated-session-cluster.js'
import type { SessionCluster } from './session-cluster.js'

/**
 * Build a cluster node from options; nothing listens until `start()`. Every option is validated here, so a
 * mistake is a named error at start-up, never a crash at the first request.
 *
 * @example
 * const cluster = createSessionCluster({ route: 'node1', port: 4000, members: ['10.0.0.2:4000'], secret })
 * await cluster.start() // resolves once state transfer is done
 */
/** One secret or several (a rotation: the first seals, any opens), each a string of at least 16 characters. */
function validateSecrets(secret: unknown): string[] | undefined {
  if (secret === undefined) return undefined
  const list = Array.isArray(secret) ? secret : [secret]
  const bad = list.length === 0 ? secret : list.find((s) => typeof s !== 'string' || s.length < 16)
  if (list.length === 0 || bad !== undefined) {
    const got = typeof bad === 'string' ? `a string of ${bad.length}` : describeValue(bad)
    throw new InvalidParametersError(`secret must be a string of at least 16 characters, or a non-empty array of them (a rotation), got ${got}`)
  }
  return list as string[]
}

export function createSessionCluster(init: SessionClusterInit): SessionCluster {
  if (init === null || typeof init !== 'object') throw new InvalidParametersError(`cluster options must be an object, got ${describeValue(init)}`)
  refuseUnknownOptions(init, CLUSTER_OPTION_NAMES, { what: 'cluster option' })
  if (init.insecure !== undefined && typeof init.insecure !== 'boolean') {
    throw new InvalidParametersError(`insecure must be a boolean, got ${describeValue(init.insecure)}`)
  }
  const settings = resolveSettings(init)
  const route = validateRoute(init.route)
  const clock = init.clock ?? systemClock
  // Silent unless the application gives a logger. Every line names this node (`node`: its route; `route` and
  // `address` name a peer); lines about a peer name its route as well as its address (`peerRoute`, once membership
  // knows it), and a line that keeps repeating is written once per interval with a count.
  let routeOf: (address: string) => string | undefined = () => undefined
  const limited = rateLimitedLogger(init.logger ?? silentLogger, clock, WARNING_INTERVAL_MS)
  const logger = childLogger(
    peerNamingLogger(limited, (address) => routeOf(address)),
    { node: route },
  )
  const metrics = new Metrics()
  const secret = validateSecrets(init.secret)
  for (const [i, s] of (secret ?? []).entries()) {
    const weakness = weakSecretReason(s)
    if (weakness) logger.warn(`the cluster secret${secret!.length > 1 ? ` #${i + 1}` : ''} looks guessable: ${weakness}`)
  }
  const clusterName = init.clusterName ?? CLUSTER_DEFAULTS.clusterName
  const port = validatePort(init.port ?? CLUSTER_DEFAULTS.port, 'port')
  const autoBind = resolveAutoBind(init)
  const discovery = createDiscovery(init.discovery, { members: init.members ?? [], port, autoBind, secrets: secret, clusterName })
  const transport =
    init.transport ??
    (() => {
      const host = validateHost(init.host ?? CLUSTER_DEFAULTS.host, 'host')
      const advertiseHost = init.advertiseHost === undefined ? undefined : validateHost(init.advertiseHost, 'advertiseHost')
      if (!secret && !init.insecure && (!isLoopbackHost(host) || (advertiseHost && !isLoopbackHost(advertiseHost)))) {
        throw new InsecureConfigurationError(
          `cluster address ${advertiseHost ?? host} is not loopback and no secret is set: set a shared secret so cluster traffic is encrypted and authenticated (or insecure: true on a network you trust)`,
        )
      }
      return tcpTransport({
        host,
        port,
        autoBind,
        ...(advertiseHost ? { advertiseHost } : {}),
        insecure: init.insecure ?? false,
        maxFrameBytes: settings.maxFrameBytes,
        helloTimeoutMs: settings.helloTimeoutMs,
        maxPendingConnections: settings.maxPendingConnections,
        maxPendingConnectionsPerSource: settings.maxPendingConnectionsPerSource,
        protector: secret
          ? aesGcmProtector({ secret, clusterName })
          : plaintextProtector(),
        clock,
        logger: childLogger(logger, { component: 'transport' }),
        metrics,
      })
    })()
  const channel = new Channel({
    transport,
    codec: cborCodec(),
    clock,
    logger: childLogger(logger, { component: 'channel' }),
    metrics,
    ackTimeoutMs: settings.ackTimeoutMs,
  })
  const membership = heartbeatMembership({
    channel,
    route,
    id: newIncarnationId(),
    plan: replicationPlan(settings),
    discovery,
    heartbeatIntervalMs: settings.heartbeatIntervalMs,
    suspectTimeoutMs: settings.suspectTimeoutMs,
    verifyTimeoutMs: settings.verifyTimeoutMs,
    clock,
    logger: childLogger(logger, { component: 'membership' }),
    metrics,
  })
  routeOf = (address) => membership.members().find((m) => addressKey(m.address) === address)?.route
  return new ReplicatedSessionCluster({ channel, membership, clock, logger, metrics, settings, codec: cborCodec(), flushLog: () => limited.flush() })
}

/** 0 unless set; local discovery needs a range, so it defaults to 100 ports there (Tomcat's autoBind). */
function resolveAutoBind(init: SessionClusterInit): number {
  const local = typeof init.discovery === 'object' && init.discovery !== null && (init.discovery as { kind?: unknown }).kind === 'local'
  const autoBind = init.autoBind ?? (local ? 100 : 0)
  if (typeof autoBind !== 'number' || !Number.isInteger(autoBind) || autoBind < 0 || autoBind > 1_000) {
    throw new InvalidParametersError(`autoBind must be a whole number of ports from 0 to 1000, got ${describeValue(autoBind)}`)
  }
  return autoBind
}

function resolveSettings(init: SessionClusterInit): ClusterSettings {
  const settings = { ...CLUSTER_DEFAULTS } as ClusterSettings
  for (const [key, kind] of NUMERIC_CLUSTER_OPTIONS) {
    const value = init[key]
    if (value === undefined) continue
    if (typeof value !== 'number' || Number.isNaN(value) || value <= 0 || (!Number.isFinite(value) && kind !== 'unlimited')) {
      throw new InvalidParametersError(`${key} must be a positive number, got ${describeValue(value)}`)
    }
    settings[key] = value
  }
  if (init.replication !== undefined) {
    if (init.replication !== 'sync' && init.replication !== 'async') {
      throw new InvalidParametersError(`replication must be 'sync' or 'async', got ${describeValue(init.replication)}`)
    }
    settings.replication = init.replication
  }
  if (init.manager !== undefined) {
    if (init.manager !== 'delta' && init.manager !== 'backup') {
      throw new InvalidParametersError(`manager must be 'delta' or 'backup', got ${describeValue(init.manager)}`)
    }
    settings.manager = init.manager
  }
  if (init.backups !== undefined) {
    if (typeof init.backups !== 'number' || !Number.isInteger(init.backups) || init.backups < 1 || init.backups > 16) {
      throw new InvalidParametersError(`backups must be a whole number from 1 to 16, got ${describeValue(init.backups)}`)
    }
    if (settings.manager !== 'backup') throw new InvalidParametersError(`backups applies to manager: 'backup' only (manager is '${settings.manager}')`)
    settings.backups = init.backups
  }
  if (init.members !== undefined && !Array.isArray(init.members)) {
    throw new InvalidParametersError(`members must be an array of "host:port" strings, got ${describeValue(init.members)}`)
  }
  if (init.clusterName !== undefined && (typeof init.clusterName !== 'string' || init.clusterName.length === 0 || init.clusterName.length > 128)) {
    throw new InvalidParametersError(`clusterName must be a non-empty string of at most 128 characters, got ${describeValue(init.clusterName)}`)
  }
  for (const key of ['maxSessionBytes', 'stateTransferChunkBytes'] as const) {
    // One session (a delta) or one chunk must fit a frame with room for its encoding and encryption.
    if (settings[key] > settings.maxFrameBytes / 2) {
      throw new InvalidParametersError(`${key} (${settings[key]}) must be at most half of maxFrameBytes (${settings.maxFrameBytes})`)
    }
  }
  for (const key of ['maxStateTransfers', 'maxStateTransfersPerPeer'] as const) {
    if (!Number.isInteger(settings[key])) throw new InvalidParametersError(`${key} must be a whole number, got ${settings[key]}`)
  }
  if (settings.maxStateTransfersPerPeer > settings.maxStateTransfers) {
    throw new InvalidParametersError(
      `maxStateTransfersPerPeer (${settings.maxStateTransfersPerPeer}) must be at most maxStateTransfers (${settings.maxStateTransfers})`,
    )
  }
  if (settings.tombstoneRetentionMs < 2 * settings.ackTimeoutMs) {
    throw new InvalidParametersError('tombstoneRetentionMs must be well above ackTimeoutMs, or late messages could resurrect destroyed sessions')
  }
  return settings
}
