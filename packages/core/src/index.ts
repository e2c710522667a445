/**
 * @session-cluster/core: Tomcat-style session clustering for Node, independent of any web framework.
 * This entry holds what an application or a framework adapter uses; the test kit (memory transport, manual
 * clock, compliance suites) is `@session-cluster/core/testing`.
 *
 * @example
 * const cluster = createSessionCluster({ route: 'node1', port: 4000, members: ['10.0.0.2:4000'], secret })
 * await cluster.start()
 */

// The cluster: create it, run it, watch it.
export { createSessionCluster } from './cluster/create-session-cluster.js'
export { CLUSTER_DEFAULTS, type SessionClusterInit } from './cluster/options.js'
export type {
  ClusterEvent,
  ClusterStatus,
  LoadedSession,
  LoadOptions,
  ReplicationManager,
  ReplicationMode,
  SaveOptions,
  SessionCluster,
  SessionClusterEvents,
  SessionData,
  SessionEventInfo,
  SessionMeta,
} from './cluster/session-cluster.js'
export type { Address, Member } from './member.js'
export type { MemberInfo, MemberState } from './membership/membership.js'
export type { Discovery, DiscoveryContext } from './membership/discovery.js'
export type { DiscoveryOption } from './membership/discovery-option.js'
export type { DnsDiscoveryInit } from './membership/dns/dns-discovery.js'
export type { MulticastDiscoveryInit } from './membership/multicast/multicast-discovery.js'

// Metrics: the labelled families a node publishes (exporters read them; see @session-cluster/prometheus).
export {
  Counter,
  type CounterCell,
  CounterFamily,
  GaugeFamily,
  Histogram,
  HistogramFamily,
  type Labels,
  type MetricDefinition,
  type MetricFamily,
  type MetricSample,
  Metrics,
} from './metrics.js'
export {
  type ClusterMetrics,
  LATENCY_BUCKETS_SECONDS,
  METRIC_PREFIX,
  STATE_TRANSFER_BUCKETS_SECONDS,
} from './metrics-contract.js'

// Errors, matched by `name` (or by class).
export * from './errors.js'

// What an application may inject: a logger, a clock, another transport.
export { consoleLogger, type Logger, silentLogger } from './logger.js'
export { type PinoLike, pinoLogger } from './pino-logger.js'
export type { Clock, TimerHandle } from './clock/clock.js'
export { systemClock } from './clock/system-clock.js'
export type { FrameHandler, FrameRejection, PeerRefusal, Transport, TransportEvents } from './transport/transport.js'

// What a framework adapter shares with the others: route binding, the static filter, the store mapping.
export { validateRebindMode, type RebindMode } from './valve/route-binding.js'
export {
  createStaticFilter,
  DEFAULT_STATIC_EXTENSIONS,
  DEFAULT_STATIC_FILTER,
  type StaticFilter,
  type StaticFilterOption,
} from './valve/static-filter.js'
export { sameSessionBase } from './valve/session-id.js'
export * from './adapter/index.js'
