import { Channel } from '../channel/channel.js'
import { systemClock } from '../clock/system-clock.js'
import { cborCodec } from '../codec/cbor-codec.js'
import { aesGcmProtector, plaintextProtector, weakSecretReason } from '../crypto/index.js'
import { InsecureConfigurationError, InvalidParametersError } from '../errors.js'
import { childLogger, consoleLogger } from '../logger.js'
import { isLoopbackHost, validateHost, validatePort, validateRoute } from '../member.js'
import { newIncarnationId, staticMembership } from '../membership/static/static-membership.js'
import { Metrics } from '../metrics.js'
import { describeValue, refuseUnknownOptions } from '../option-checks.js'
import { tcpTransport } from '../transport/tcp/index.js'
import { CLUSTER_DEFAULTS, CLUSTER_OPTION_NAMES, type SessionClusterInit } from './options.js'
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
  const logger = childLogger(init.logger ?? consoleLogger(), { route })
  const metrics = new Metrics()
  const secret = validateSecrets(init.secret)
  for (const [i, s] of (secret ?? []).entries()) {
    const weakness = weakSecretReason(s)
    if (weakness) logger.warn(`the cluster secret${secret!.length > 1 ? ` #${i + 1}` : ''} looks guessable: ${weakness}`)
  }
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
        port: validatePort(init.port ?? CLUSTER_DEFAULTS.port, 'port'),
        ...(advertiseHost ? { advertiseHost } : {}),
        insecure: init.insecure ?? false,
        maxFrameBytes: settings.maxFrameBytes,
        helloTimeoutMs: settings.helloTimeoutMs,
        maxPendingConnections: settings.maxPendingConnections,
        maxPendingConnectionsPerSource: settings.maxPendingConnectionsPerSource,
        protector: secret
          ? aesGcmProtector({ secret, clusterName: init.clusterName ?? CLUSTER_DEFAULTS.clusterName })
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
  const membership = staticMembership({
    channel,
    route,
    id: newIncarnationId(),
    members: init.members ?? [],
    heartbeatIntervalMs: settings.heartbeatIntervalMs,
    suspectTimeoutMs: settings.suspectTimeoutMs,
    verifyTimeoutMs: settings.verifyTimeoutMs,
    clock,
    logger: childLogger(logger, { component: 'membership' }),
    metrics,
  })
  return new ReplicatedSessionCluster({ channel, membership, clock, logger, metrics, settings, codec: cborCodec() })
}

const POSITIVE_MS = [
  'ackTimeoutMs',
  'tokenWaitMs',
  'stateTransferTimeoutMs',
  'stateTransferChunkBytes',
  'maxStateTransfers',
  'maxStateTransfersPerPeer',
  'maxStateTransferSnapshotBytes',
  'stateTransfersPerMinute',
  'antiEntropyRequestsPerSecond',
  'peerRecordsPerSecond',
  'defaultMaxInactiveMs',
  'accessFlushIntervalMs',
  'expiryIntervalMs',
  'tombstoneRetentionMs',
  'antiEntropyIntervalMs',
  'maxUnackedBytes',
  'maxSessions',
  'maxSessionBytes',
  'maxFrameBytes',
  'helloTimeoutMs',
  'maxPendingConnections',
  'maxPendingConnectionsPerSource',
  'heartbeatIntervalMs',
  'suspectTimeoutMs',
  'verifyTimeoutMs',
] as const

function resolveSettings(init: SessionClusterInit): ClusterSettings {
  const settings = { ...CLUSTER_DEFAULTS } as ClusterSettings
  for (const key of POSITIVE_MS) {
    const value = init[key]
    if (value === undefined) continue
    if (typeof value !== 'number' || Number.isNaN(value) || value <= 0 || (!Number.isFinite(value) && key !== 'maxSessions')) {
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
