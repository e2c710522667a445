import { InvalidParametersError, Metrics } from '@session-cluster/core'
import { AggregatorRegistry, Registry, register as globalRegistry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { registerClusterMetrics } from '../src/index.js'

/** A node's metrics with some activity, and its gauges reading fixed values. */
function busyNode(sessions: number): Metrics {
  const metrics = new Metrics()
  const rd = metrics.cluster.frameCounters('sent', 'rd')
  rd.frames.inc(3)
  rd.bytes.inc(300)
  metrics.cluster.replicationLatency.labels().observe(0.002)
  metrics.cluster.sessions.readBy(() => [{ labels: {}, value: sessions }])
  metrics.cluster.ready.readBy(() => [{ labels: {}, value: 1 }])
  return metrics
}

describe('registerClusterMetrics', () => {
  it('writes the Prometheus text format into the application registry, not the global one', async () => {
    const registry = new Registry()
    registerClusterMetrics(busyNode(7), { registry })
    const text = await registry.metrics()
    expect(text).toContain('# TYPE session_cluster_frames_total counter')
    expect(text).toContain('session_cluster_frames_total{type="rd",direction="sent"} 3')
    expect(text).toContain('session_cluster_frame_bytes_total{type="rd",direction="sent"} 300')
    expect(text).toContain('session_cluster_sessions 7')
    expect(text).toContain('session_cluster_replication_latency_seconds_bucket{le="0.0025"} 1')
    expect(text).toContain('session_cluster_replication_latency_seconds_bucket{le="+Inf"} 1')
    expect(text).toContain('session_cluster_replication_latency_seconds_count 1')
    expect(await globalRegistry.metrics()).not.toContain('session_cluster_')
  })

  it('reads the values when scraped', async () => {
    const registry = new Registry()
    const metrics = busyNode(1)
    registerClusterMetrics({ metrics }, { registry })
    metrics.cluster.frameCounters('sent', 'rd').frames.inc(2)
    expect(await registry.metrics()).toContain('session_cluster_frames_total{type="rd",direction="sent"} 5')
  })

  it('merges workers of one machine with AggregatorRegistry: counters add up, or stay apart by a worker label', async () => {
    const plain = await Promise.all(
      [busyNode(4), busyNode(6)].map(async (m) => {
        const registry = new Registry()
        registerClusterMetrics(m, { registry })
        return registry.getMetricsAsJSON()
      }),
    )
    const merged = await AggregatorRegistry.aggregate(plain).metrics()
    expect(merged).toContain('session_cluster_frames_total{type="rd",direction="sent"} 6')
    expect(merged).toContain('session_cluster_sessions 6') // the highest: every worker holds the sessions
    expect(merged).toContain('session_cluster_replication_latency_seconds_count 2')

    const labelled = await Promise.all(
      [busyNode(4), busyNode(6)].map(async (m, i) => {
        const registry = new Registry()
        registerClusterMetrics(m, { registry, labels: { worker: String(i + 1) } })
        return registry.getMetricsAsJSON()
      }),
    )
    const apart = await AggregatorRegistry.aggregate(labelled).metrics()
    expect(apart).toContain('session_cluster_sessions{worker="1"} 4')
    expect(apart).toContain('session_cluster_sessions{worker="2"} 6')
  })

  it('stays correct in OpenMetrics format (no doubled _total)', async () => {
    const registry = new Registry()
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE as never)
    registerClusterMetrics(busyNode(1), { registry })
    const text = await registry.metrics()
    expect(text).toContain('session_cluster_frames_total{type="rd",direction="sent"} 3')
    expect(text).not.toContain('_total_total')
  })

  it('unregisters on request', async () => {
    const registry = new Registry()
    const unregister = registerClusterMetrics(busyNode(1), { registry })
    unregister()
    expect(await registry.metrics()).not.toContain('session_cluster_')
  })

  it('refuses a missing registry, bad labels and unknown options by name', () => {
    const metrics = busyNode(1)
    expect(() => registerClusterMetrics(metrics, {} as never)).toThrow(/registry must be a prom-client Registry/)
    expect(() => registerClusterMetrics(metrics, { registry: new Registry(), labels: { type: 'x' } })).toThrow(InvalidParametersError)
    expect(() => registerClusterMetrics(metrics, { registry: new Registry(), labels: { 'bad-name': 'x' } })).toThrow(/label name/)
    expect(() => registerClusterMetrics(metrics, { registry: new Registry(), registery: 1 } as never)).toThrow(/registery/)
    expect(() => registerClusterMetrics({} as never, { registry: new Registry() })).toThrow(/cluster node/)
  })
})
