import { describeValue, InvalidParametersError, type Labels, type MetricFamily, type Metrics, refuseUnknownOptions } from '@session-cluster/core'

/**
 * What this package needs of a prom-client `Registry` (typed structurally, so that the application's own copy of
 * prom-client is the one used: a second copy would have a second global registry nobody scrapes).
 */
export interface PromRegistry {
  registerMetric(metric: never): void
  removeSingleMetric(name: string): void
  metrics(): Promise<string>
}

/** A cluster node (`sessions.cluster`, `fastify.sessionCluster`) or its `metrics` directly. */
export type MetricsSource = { readonly metrics: Metrics } | Metrics

export interface ClusterMetricsOptions {
  /**
   * The application's registry (or several): required, so the metrics land where the application serves
   * `/metrics` from, never only in prom-client's global registry by accident. Pass prom-client's `register` to
   * use the global one on purpose.
   */
  registry: PromRegistry | readonly PromRegistry[]
  /**
   * Labels added to every sample, with fixed values: e.g. `{ worker: String(cluster.worker.id) }` when workers of
   * one machine report through prom-client's AggregatorRegistry and should stay apart. Without them the
   * AggregatorRegistry adds counters and histograms up, and takes the highest gauge (the lowest `ready`).
   */
  labels?: Record<string, string>
}

/** How prom-client's AggregatorRegistry merges a metric of several workers. */
const AGGREGATOR: Record<MetricFamily['type'], string> = { counter: 'sum', histogram: 'sum', gauge: 'max' }
const AGGREGATOR_BY_NAME: Record<string, string> = { session_cluster_ready: 'min' }

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/

/**
 * Register every metric of the node's contract (see the core's metrics-contract.ts) with the registry: each is
 * read from the node when the registry is scraped, so nothing runs on the request path. Returns a function that
 * removes them again (for a node that stops while the process goes on).
 */
export function registerClusterMetrics(source: MetricsSource, options: ClusterMetricsOptions): () => void {
  const metrics = metricsOf(source)
  if (options === null || typeof options !== 'object') {
    throw new InvalidParametersError(`registerClusterMetrics options must be an object with a registry, got ${describeValue(options)}`)
  }
  refuseUnknownOptions(options, new Set(['registry', 'labels']), { what: 'registerClusterMetrics option' })
  const registries = Array.isArray(options.registry) ? options.registry : [options.registry]
  if (registries.length === 0 || registries.some((r) => !isRegistry(r))) {
    throw new InvalidParametersError(
      `registry must be a prom-client Registry (new Registry()) or an array of them, got ${describeValue(options.registry)}`,
    )
  }
  const constant = validateConstantLabels(options.labels ?? {}, metrics)
  const adapters = metrics.families().map((family) => promMetric(family, constant))
  for (const registry of registries) for (const metric of adapters) registry.registerMetric(metric as never)
  return () => {
    for (const registry of registries) for (const metric of adapters) registry.removeSingleMetric(metric.name)
  }
}

function metricsOf(source: MetricsSource): Metrics {
  const candidate = source && 'families' in source ? source : (source as { metrics?: Metrics } | undefined)?.metrics
  if (!candidate || typeof candidate.families !== 'function') {
    throw new InvalidParametersError(`registerClusterMetrics needs a cluster node (sessions.cluster) or its metrics, got ${describeValue(source)}`)
  }
  return candidate
}

function isRegistry(value: unknown): value is PromRegistry {
  const r = value as Partial<PromRegistry> | null
  return typeof r?.registerMetric === 'function' && typeof r.metrics === 'function' && typeof r.removeSingleMetric === 'function'
}

function validateConstantLabels(labels: Record<string, string>, metrics: Metrics): Labels {
  if (labels === null || typeof labels !== 'object' || Array.isArray(labels)) {
    throw new InvalidParametersError(`labels must be an object of label name to value, got ${describeValue(labels)}`)
  }
  const taken = new Set(metrics.families().flatMap((f) => f.labelNames))
  for (const [name, value] of Object.entries(labels)) {
    if (!LABEL_NAME.test(name) || name.startsWith('__') || name === 'le' || taken.has(name)) {
      throw new InvalidParametersError(`label name ${JSON.stringify(name)} is not allowed (a Prometheus label name not used by the metrics themselves)`)
    }
    if (typeof value !== 'string') throw new InvalidParametersError(`label ${name} must have a string value, got ${describeValue(value)}`)
  }
  return { ...labels }
}

interface PromValue {
  value: number
  labels: Record<string, string | number>
  metricName?: string
}

/**
 * A metric object as prom-client's Registry reads it (`get()` → name, help, type, values, aggregator): the
 * registry formats the text, and AggregatorRegistry merges workers by the aggregator.
 */
function promMetric(family: MetricFamily, constant: Labels) {
  const aggregator = AGGREGATOR_BY_NAME[family.name] ?? AGGREGATOR[family.type]
  const get = () => {
    const values: PromValue[] = []
    for (const sample of family.collect()) {
      const labels = { ...sample.labels, ...constant }
      if (!('buckets' in sample)) {
        values.push({ value: sample.value, labels })
        continue
      }
      for (const [le, count] of sample.buckets) {
        values.push({ value: count, labels: { ...labels, le: le === Number.POSITIVE_INFINITY ? '+Inf' : le }, metricName: `${family.name}_bucket` })
      }
      values.push({ value: sample.sum, labels, metricName: `${family.name}_sum` })
      values.push({ value: sample.count, labels, metricName: `${family.name}_count` })
    }
    // `metric.name`, not the family's: prom-client renames counters in place for OpenMetrics output.
    return { name: metric.name, help: family.help, type: family.type, values, aggregator }
  }
  const metric = { name: family.name, help: family.help, type: family.type, aggregator, get, reset: () => {} }
  return metric
}
