import type { Counter, CounterFamily, GaugeFamily, HistogramFamily, Metrics } from './metrics.js'

/**
 * The metrics a node publishes, by name: the contract dashboards and alerts rely on (pinned by a test, so that a
 * rename is a visible change). Prometheus conventions: one `session_cluster_` prefix, base units (seconds, bytes),
 * counters ending in `_total`, and only labels with a few fixed values.
 */
export const METRIC_PREFIX = 'session_cluster_'

/** Replication latency: from a save's local apply until the members in step acknowledged it (sync mode). */
export const LATENCY_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] as const
/** State transfer at start-up: from joining until the node serves. */
export const STATE_TRANSFER_BUCKETS_SECONDS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120] as const

/** Message types beyond this many distinct ones are counted as `other` (a peer cannot grow the label set). */
const MAX_MESSAGE_TYPES = 48

export type Direction = 'sent' | 'received'

/** Frames and bytes of one message type in one direction, bound once. */
export interface FrameCounters {
  readonly frames: Counter
  readonly bytes: Counter
}

export type TokenWaitOutcome = 'caught-up' | 'fetched' | 'still-behind'
export type MissFetchOutcome = 'found' | 'missing' | 'failed'
export type MembershipEvent = 'joined' | 'suspected' | 'recovered' | 'left' | 'removed' | 'replaced'

export interface ClusterMetrics {
  /** Frames and their bytes by message type (`ack`, `response`, `failure` for replies) and direction. */
  frameCounters(direction: Direction, type: string): FrameCounters
  readonly acks: Readonly<Record<Direction, Counter>>
  readonly ackMisses: Counter
  readonly retransmissions: Counter
  readonly antiEntropyRepairs: Counter
  readonly decodeFailures: CounterFamily
  readonly authenticationFailures: CounterFamily
  readonly peerRefusals: CounterFamily
  readonly membershipEvents: CounterFamily
  readonly missFetches: Readonly<Record<MissFetchOutcome, Counter>>
  readonly tokenWaits: Readonly<Record<TokenWaitOutcome, Counter>>
  readonly members: GaugeFamily
  readonly sessions: GaugeFamily
  readonly tombstones: GaugeFamily
  readonly ready: GaugeFamily
  readonly replicationLatency: HistogramFamily
  readonly stateTransferDuration: HistogramFamily
  readonly ackLatency: HistogramFamily
}

export function defineClusterMetrics(metrics: Metrics): ClusterMetrics {
  const name = (base: string) => `${METRIC_PREFIX}${base}`
  const frames = metrics.counter({ name: name('frames_total'), help: 'Cluster frames by message type and direction.', labelNames: ['type', 'direction'] })
  const bytes = metrics.counter({
    name: name('frame_bytes_total'),
    help: 'Bytes of cluster frames (before encryption) by message type and direction.',
    labelNames: ['type', 'direction'],
  })
  const acks = metrics.counter({ name: name('acks_total'), help: 'Replication acknowledgements sent and received.', labelNames: ['direction'] })
  const ackMisses = metrics.counter({
    name: name('ack_misses_total'),
    help: 'Members excluded from the in-sync set because they did not acknowledge in time.',
    labelNames: [],
  })
  const retransmissions = metrics.counter({
    name: name('retransmissions_total'),
    help: 'Replication batches sent again because their acknowledgement did not come.',
    labelNames: [],
  })
  const antiEntropyRepairs = metrics.counter({
    name: name('anti_entropy_repairs_total'),
    help: 'Sessions anti-entropy found different on a member and merged.',
    labelNames: [],
  })
  const decodeFailures = metrics.counter({
    name: name('decode_failures_total'),
    help: 'Frames or messages from peers that could not be decoded (the connection or message is dropped).',
    labelNames: ['reason'],
  })
  const authenticationFailures = metrics.counter({
    name: name('authentication_failures_total'),
    help: 'Connections or frames refused because they did not authenticate (wrong secret, replay, bad hello).',
    labelNames: ['reason'],
  })
  const peerRefusals = metrics.counter({
    name: name('peer_refusals_total'),
    help: 'Times a configured peer refused this node (wrong secret or cluster name, no common protocol version, not a node).',
    labelNames: ['reason'],
  })
  const membershipEvents = metrics.counter({
    name: name('membership_events_total'),
    help: 'Membership changes seen by this node: joined, suspected, recovered, left, removed, replaced.',
    labelNames: ['event'],
  })
  const missFetches = metrics.counter({
    name: name('miss_fetches_total'),
    help: 'Sessions this node did not hold and asked their owners for (backup replication), by outcome.',
    labelNames: ['outcome'],
  })
  const tokenWaits = metrics.counter({
    name: name('token_waits_total'),
    help: 'Async mode: reads whose version token was newer than this node, by how they were served.',
    labelNames: ['outcome'],
  })
  const members = metrics.gauge({ name: name('members'), help: 'Remote members by state.', labelNames: ['state'] })
  const sessions = metrics.gauge({ name: name('sessions'), help: 'Live sessions held by this node.', labelNames: [] })
  const tombstones = metrics.gauge({ name: name('tombstones'), help: 'Destroyed sessions remembered so they cannot come back.', labelNames: [] })
  const ready = metrics.gauge({ name: name('ready'), help: '1 once the node joined, finished state transfer and is not shut out; else 0.', labelNames: [] })
  const replicationLatency = metrics.histogram({
    name: name('replication_latency_seconds'),
    help: 'Sync mode: how long a save waited for the members in step to apply it.',
    labelNames: [],
    buckets: LATENCY_BUCKETS_SECONDS,
  })
  const stateTransferDuration = metrics.histogram({
    name: name('state_transfer_duration_seconds'),
    help: 'From joining until the node serves, by outcome (complete, alone, timed-out).',
    labelNames: ['outcome'],
    buckets: STATE_TRANSFER_BUCKETS_SECONDS,
  })

  const ackLatency = metrics.histogram({
    name: name('ack_latency_seconds'),
    help: 'Both modes: from sending a replication batch to a member until the member acknowledged it (resends included).',
    labelNames: [],
    buckets: LATENCY_BUCKETS_SECONDS,
  })

  // Bound here, once: a hot-path increment is a property access and an addition.
  const bound = { sent: new Map<string, FrameCounters>(), received: new Map<string, FrameCounters>() }
  const bind = (direction: Direction, type: string): FrameCounters => ({
    frames: frames.labels(type, direction),
    bytes: bytes.labels(type, direction),
  })
  const other = { sent: bind('sent', 'other'), received: bind('received', 'other') }
  return {
    frameCounters(direction, type) {
      const map = bound[direction]
      let counters = map.get(type)
      if (counters) return counters
      if (map.size >= MAX_MESSAGE_TYPES) return other[direction]
      counters = bind(direction, type)
      map.set(type, counters)
      return counters
    },
    acks: { sent: acks.labels('sent'), received: acks.labels('received') },
    ackMisses: ackMisses.labels(),
    retransmissions: retransmissions.labels(),
    antiEntropyRepairs: antiEntropyRepairs.labels(),
    decodeFailures,
    authenticationFailures,
    peerRefusals,
    membershipEvents,
    missFetches: { found: missFetches.labels('found'), missing: missFetches.labels('missing'), failed: missFetches.labels('failed') },
    tokenWaits: {
      'caught-up': tokenWaits.labels('caught-up'),
      fetched: tokenWaits.labels('fetched'),
      'still-behind': tokenWaits.labels('still-behind'),
    },
    members,
    sessions,
    tombstones,
    ready,
    replicationLatency,
    stateTransferDuration,
    ackLatency,
  }
}
