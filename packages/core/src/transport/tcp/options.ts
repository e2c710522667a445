import type { Clock } from '../../clock/clock.js'
import { systemClock } from '../../clock/system-clock.js'
import type { FrameProtector } from '../../crypto/frame-protector.js'
import { InsecureConfigurationError, InvalidParametersError } from '../../errors.js'
import { type Logger, silentLogger } from '../../logger.js'
import { isLoopbackHost, validateHost, validatePort } from '../../member.js'
import { Metrics } from '../../metrics.js'

export interface TcpTransportInit {
  /** Protects every frame: `aesGcmProtector(...)`, or `plaintextProtector()` on loopback only. Required. */
  protector: FrameProtector
  /**
   * Address to listen on.
   * @default '127.0.0.1'
   */
  host?: string
  /**
   * Port to listen on; 0 picks a free port (read `transport.address` after `start()`).
   * @default 4000
   */
  port?: number
  /**
   * Ports above `port` to try, one after another, when it is taken (Tomcat's autoBind): workers on one host that
   * share a configuration each get their own port of `port`..`port + autoBind`.
   * @default 0
   */
  autoBind?: number
  /** Host peers should dial, when it differs from `host` (required when `host` is 0.0.0.0 or ::). */
  advertiseHost?: string
  /**
   * Allow a non-encrypting protector on a non-loopback address. Anyone on the network can then read
   * and inject cluster traffic; a warning is logged at start.
   * @default false
   */
  insecure?: boolean
  /**
   * Largest sealed record (the frames of one turn, sealed together) accepted or sent; an inbound length
   * prefix above it closes the connection before the body is buffered. `send` takes frames up to
   * `maxFrameBytes - 512`.
   * @default 16 MiB
   */
  maxFrameBytes?: number
  /**
   * Bytes of frames waiting per peer (while connecting, or while the socket is backed up); `send` returns
   * false beyond it.
   * @default 64 MiB
   */
  maxQueueBytes?: number
  /** @default 100 */
  reconnectInitialDelayMs?: number
  /** @default 5_000 */
  reconnectMaxDelayMs?: number
  /** @default 1_000 */
  connectTimeoutMs?: number
  /**
   * An inbound connection that has not introduced itself (sent a hello that authenticates) within this is closed.
   * A peer sends its hello as soon as it connects; the deadline only bounds how long a socket that will never send
   * one holds its place. At most 60 s.
   * @default 3_000
   */
  helloTimeoutMs?: number
  /**
   * Inbound connections waiting for their hello, at most. Beyond it the newest is let in and an older one is
   * closed (the oldest of the source with the most waiting), so sockets held open by an attacker cannot keep a
   * peer out.
   * @default 128
   */
  maxPendingConnections?: number
  /**
   * Inbound connections waiting for their hello from one source (an IPv4 address, an IPv6 /64), at most; beyond
   * it that source's oldest is closed. At most `maxPendingConnections`.
   * @default 16
   */
  maxPendingConnectionsPerSource?: number
  /**
   * TCP keepalive probe delay on every socket (dead peers behind a silent network are noticed).
   * @default 10_000
   */
  keepAliveInitialDelayMs?: number
  /** On stop, how long queued frames may take to leave before connections are cut. @default 1_000 */
  drainTimeoutMs?: number
  /** @default systemClock */
  clock?: Clock
  /** @default silentLogger */
  logger?: Logger
  /**
   * Counters `transport.frames.sent`, `transport.rejected.<reason>`, `transport.admission.<evicted|source-cap|hello-deadline>`...
   * @default a private Metrics
   */
  metrics?: Metrics
}

export const TCP_DEFAULTS = {
  host: '127.0.0.1',
  port: 4000,
  autoBind: 0,
  insecure: false,
  maxFrameBytes: 16 * 1024 * 1024,
  maxQueueBytes: 64 * 1024 * 1024,
  reconnectInitialDelayMs: 100,
  reconnectMaxDelayMs: 5_000,
  connectTimeoutMs: 1_000,
  helloTimeoutMs: 3_000,
  maxPendingConnections: 128,
  maxPendingConnectionsPerSource: 16,
  keepAliveInitialDelayMs: 10_000,
  drainTimeoutMs: 1_000,
} as const

/**
 * Room kept under `maxFrameBytes` for what wraps frames in a sealed record: the protector's overhead
 * (AES-GCM: 52 bytes), the record's inner length prefixes and, on a new connection, the hello (<= 264 bytes).
 */
export const RECORD_OVERHEAD_ALLOWANCE_BYTES = 512

export type TcpTransportOptions = Required<Omit<TcpTransportInit, 'advertiseHost'>> & { advertiseHost: string }

const UNSPECIFIED_HOSTS = new Set(['0.0.0.0', '::', '0:0:0:0:0:0:0:0'])

/** A longer hello deadline would let idle sockets hold their places for minutes. */
export const MAX_HELLO_TIMEOUT_MS = 60_000

/** Merge defaults once and validate everything up front, so a misconfigured node fails at construction. */
export function resolveTcpOptions(init: TcpTransportInit): TcpTransportOptions {
  const merged = {
    ...TCP_DEFAULTS,
    clock: systemClock,
    logger: silentLogger,
    metrics: new Metrics(),
    ...withoutUndefined(init),
  }
  const host = validateHost(merged.host, 'host')
  validatePort(merged.port, 'port')
  if (!Number.isInteger(merged.autoBind) || merged.autoBind < 0 || merged.port + merged.autoBind > 65535 || (merged.port === 0 && merged.autoBind > 0)) {
    throw new InvalidParametersError(`autoBind must be a whole number of ports from 0 with port + autoBind <= 65535 (and port not 0), got ${String(merged.autoBind)}`)
  }
  if (UNSPECIFIED_HOSTS.has(host) && merged.advertiseHost === undefined) {
    throw new InvalidParametersError(`host ${host} listens on every interface: set advertiseHost to the address peers dial`)
  }
  const advertiseHost = merged.advertiseHost === undefined ? host : validateHost(merged.advertiseHost, 'advertiseHost')
  if (UNSPECIFIED_HOSTS.has(advertiseHost)) throw new InvalidParametersError(`advertiseHost cannot be ${advertiseHost}`)
  for (const name of [
    'maxFrameBytes',
    'maxQueueBytes',
    'reconnectInitialDelayMs',
    'reconnectMaxDelayMs',
    'connectTimeoutMs',
    'helloTimeoutMs',
    'maxPendingConnections',
    'maxPendingConnectionsPerSource',
    'keepAliveInitialDelayMs',
    'drainTimeoutMs',
  ] as const) {
    const value = merged[name]
    if (!Number.isInteger(value) || value <= 0) throw new InvalidParametersError(`${name} must be a positive integer, got ${String(value)}`)
  }
  if (merged.helloTimeoutMs > MAX_HELLO_TIMEOUT_MS) {
    throw new InvalidParametersError(`helloTimeoutMs must be at most ${MAX_HELLO_TIMEOUT_MS}, got ${merged.helloTimeoutMs}: idle sockets would hold their places that long`)
  }
  if (merged.maxPendingConnectionsPerSource > merged.maxPendingConnections) {
    throw new InvalidParametersError(
      `maxPendingConnectionsPerSource (${merged.maxPendingConnectionsPerSource}) must be at most maxPendingConnections (${merged.maxPendingConnections})`,
    )
  }
  if (merged.maxFrameBytes > 0xffff_ffff || merged.maxFrameBytes <= 2 * RECORD_OVERHEAD_ALLOWANCE_BYTES) {
    throw new InvalidParametersError(`maxFrameBytes must be above ${2 * RECORD_OVERHEAD_ALLOWANCE_BYTES} and fit the u32 length prefix`)
  }
  const protector = merged.protector
  if (!protector || typeof protector.outbound !== 'function' || typeof protector.inbound !== 'function') {
    throw new InvalidParametersError('protector is required: pass aesGcmProtector({ secret, clusterName }) or plaintextProtector()')
  }
  if (!protector.encrypts && !merged.insecure && !(isLoopbackHost(host) && isLoopbackHost(advertiseHost))) {
    throw new InsecureConfigurationError(
      `refusing to run cluster traffic unencrypted on ${host === advertiseHost ? host : `${host} (advertised ${advertiseHost})`}: ` +
        'set a cluster secret (aesGcmProtector), bind to loopback, or pass insecure: true to accept that anyone on the network can read and inject',
    )
  }
  return { ...merged, protector, host, advertiseHost }
}

function withoutUndefined<T extends object>(init: T): Partial<T> {
  return Object.fromEntries(Object.entries(init).filter(([, v]) => v !== undefined)) as Partial<T>
}
