import { describe, expect, it } from 'vitest'
import type { SessionCluster } from '../src/cluster/session-cluster.js'
import { type MetricSample, Metrics } from '../src/metrics.js'
import { clustersStoppedAfterEach } from './support/session-cluster.js'

const cluster = clustersStoppedAfterEach()

/**
 * The published names and label sets, written out: dashboards and alerts depend on them, so renaming one must
 * change this list too (and the changelog).
 */
const PINNED = [
  ['session_cluster_frames_total', 'counter', ['type', 'direction']],
  ['session_cluster_frame_bytes_total', 'counter', ['type', 'direction']],
  ['session_cluster_acks_total', 'counter', ['direction']],
  ['session_cluster_ack_misses_total', 'counter', []],
  ['session_cluster_retransmissions_total', 'counter', []],
  ['session_cluster_anti_entropy_repairs_total', 'counter', []],
  ['session_cluster_decode_failures_total', 'counter', ['reason']],
  ['session_cluster_authentication_failures_total', 'counter', ['reason']],
  ['session_cluster_peer_refusals_total', 'counter', ['reason']],
  ['session_cluster_membership_events_total', 'counter', ['event']],
  ['session_cluster_miss_fetches_total', 'counter', ['outcome']],
  ['session_cluster_token_waits_total', 'counter', ['outcome']],
  ['session_cluster_members', 'gauge', ['state']],
  ['session_cluster_sessions', 'gauge', []],
  ['session_cluster_tombstones', 'gauge', []],
  ['session_cluster_ready', 'gauge', []],
  ['session_cluster_replication_latency_seconds', 'histogram', []],
  ['session_cluster_state_transfer_duration_seconds', 'histogram', ['outcome']],
  ['session_cluster_ack_latency_seconds', 'histogram', []],
] as const

function metricValue(node: SessionCluster, name: string, labels: Record<string, string> = {}): number {
  const family = node.metrics.families().find((f) => f.name === name)
  if (!family) throw new Error(`no metric ${name}`)
  const matches = (s: MetricSample) => Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  return family
    .collect()
    .filter(matches)
    .reduce((sum, s) => sum + ('value' in s ? s.value : s.count), 0)
}

describe('metrics contract', () => {
  it('publishes exactly the pinned names, types and label sets', () => {
    const published = new Metrics().families().map((f) => [f.name, f.type, [...f.labelNames]])
    expect(published).toEqual(PINNED.map(([name, type, labels]) => [name, type, [...labels]]))
    for (const [name, type] of PINNED) {
      expect(name).toMatch(/^session_cluster_[a-z_]+$/)
      // Prometheus conventions: counters end in _total, nothing else does.
      expect(name.endsWith('_total')).toBe(type === 'counter')
    }
  })

  it('binds a label set once: the hot path adds to the same counter object', () => {
    const metrics = new Metrics()
    const first = metrics.cluster.frameCounters('sent', 'rd')
    expect(metrics.cluster.frameCounters('sent', 'rd')).toBe(first)
    first.frames.inc()
    first.bytes.inc(120)
    expect(metrics.cluster.frameCounters('sent', 'rd').bytes.value).toBe(120)
  })

  it('counts message types beyond a bound as "other", so a peer cannot grow the label set', () => {
    const metrics = new Metrics()
    for (let i = 0; i < 200; i++) metrics.cluster.frameCounters('received', `t${i}`).frames.inc()
    const frames = metrics.families().find((f) => f.name === 'session_cluster_frames_total')!.collect()
    expect(frames.length).toBeLessThanOrEqual(52)
    const other = frames.find((s) => s.labels.type === 'other' && s.labels.direction === 'received')
    expect(other && 'value' in other ? other.value : 0).toBe(200 - 48)
  })

  it('keeps histogram buckets cumulative, with +Inf holding every observation', () => {
    const metrics = new Metrics()
    const h = metrics.cluster.replicationLatency.labels()
    for (const v of [0.0001, 0.003, 0.003, 7]) h.observe(v)
    const [sample] = metrics.cluster.replicationLatency.collect()
    if (!sample || !('buckets' in sample)) throw new Error('no histogram sample')
    expect(sample.count).toBe(4)
    expect(sample.sum).toBeCloseTo(7.0061)
    expect(sample.buckets.find(([le]) => le === 0.0005)?.[1]).toBe(1)
    expect(sample.buckets.find(([le]) => le === 0.005)?.[1]).toBe(3)
    expect(sample.buckets.find(([le]) => le === 5)?.[1]).toBe(3)
    expect(sample.buckets.at(-1)).toEqual([Number.POSITIVE_INFINITY, 4])
  })

  it('reports what the cluster does: frames by type, sessions, latency, state transfer, members', async () => {
    const { nodes, kill, clock, run, network } = await cluster(3)
    const [a, b, c] = nodes as [SessionCluster, SessionCluster, SessionCluster]
    for (const node of nodes) {
      expect(metricValue(node, 'session_cluster_ready')).toBe(1)
      expect(metricValue(node, 'session_cluster_state_transfer_duration_seconds')).toBe(1)
      expect(metricValue(node, 'session_cluster_members', { state: 'alive' })).toBe(2)
    }
    const sentBefore = metricValue(a, 'session_cluster_frames_total', { type: 'rd', direction: 'sent' })
    const receivedBefore = [b, c].map((n) => metricValue(n, 'session_cluster_frames_total', { type: 'rd', direction: 'received' }))
    const ackedBefore = metricValue(a, 'session_cluster_ack_latency_seconds')
    const id = a.generateId()
    await a.save(id, { user: 'ann' })
    // One batch to each of the two members, each received once.
    expect(metricValue(a, 'session_cluster_frames_total', { type: 'rd', direction: 'sent' })).toBe(sentBefore + 2)
    expect([b, c].map((n) => metricValue(n, 'session_cluster_frames_total', { type: 'rd', direction: 'received' }))).toEqual(
      receivedBefore.map((n) => n + 1),
    )
    expect(metricValue(a, 'session_cluster_frame_bytes_total', { type: 'rd', direction: 'sent' })).toBeGreaterThan(0)
    expect(metricValue(a, 'session_cluster_replication_latency_seconds')).toBe(1)
    // Two batches (one per member) acknowledged since the first look.
    expect(metricValue(a, 'session_cluster_ack_latency_seconds')).toBe(ackedBefore + 2)
    expect(metricValue(a, 'session_cluster_acks_total', { direction: 'received' })).toBeGreaterThanOrEqual(2)
    for (const node of nodes) expect(metricValue(node, 'session_cluster_sessions')).toBe(1)

    // A sync save while node3 is paused (a process stopped, its socket open): node1 fences it off, excluding it
    // until it catches up, instead of waiting for it.
    network.pause(c.local.address)
    await run(a.save(a.generateId(), { user: 'bob' }))
    expect(a.status().events.find((e) => e.kind === 'fenced')).toMatchObject({ route: 'node3', detail: 'ack-timeout' })
    expect(metricValue(a, 'session_cluster_ack_misses_total')).toBe(1)
    network.heal()

    await kill(2)
    await clock.advanceUntil(() => a.status().members.length === 1, { stepMs: 100, maxMs: 60_000 })
    expect(metricValue(a, 'session_cluster_members', { state: 'alive' })).toBe(1)
    expect(metricValue(a, 'session_cluster_sessions')).toBe(2)
    expect(metricValue(a, 'session_cluster_membership_events_total', { event: 'removed' })).toBe(1)
    expect(a.status().events.map((e) => e.kind)).toContain('removed')
    expect(a.status().events.find((e) => e.kind === 'removed')?.route).toBe('node3')
  })
})
