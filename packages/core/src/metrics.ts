import { type ClusterMetrics, defineClusterMetrics } from './metrics-contract.js'

/**
 * One metrics component instead of a counter field per event (Tomcat's counterSend_EVT_*). Two layers:
 * - flat named counters (`increment('channel.malformed')`), read as a plain object by `status().counters` and
 *   by tests: every detail, with names free to change;
 * - the labelled families of `metrics-contract.ts` (`metrics.cluster`), counters, gauges and histograms with
 *   stable names and bounded label sets, which exporters such as `@session-cluster/prometheus` publish.
 * Neither layer depends on an exporter: the hot path only adds to numbers this object owns, and an exporter reads
 * them when scraped.
 */
export class Metrics {
  /** A cell per name, so that adding to a counter is one lookup, not a get and a set (it runs per frame and commit). */
  readonly #counters = new Map<string, CounterCell>()
  readonly #families = new Map<string, MetricFamily>()
  /** The cluster's labelled families, with their label sets bound ahead of time. */
  readonly cluster: ClusterMetrics

  constructor() {
    this.cluster = defineClusterMetrics(this)
  }

  increment(name: string, by = 1): void {
    this.cell(name).value += by
  }

  /**
   * The flat counter `name` as a cell to add to directly, for code that counts per frame: no lookup at all. A cell
   * nothing was added to yet is left out of `snapshot`, as a name never incremented is.
   */
  cell(name: string): CounterCell {
    let cell = this.#counters.get(name)
    if (!cell) this.#counters.set(name, (cell = { value: 0 }))
    return cell
  }

  get(name: string): number {
    return this.#counters.get(name)?.value ?? 0
  }

  /** A snapshot, keys sorted, for status pages and assertions. */
  snapshot(): Record<string, number> {
    return Object.fromEntries(
      [...this.#counters.entries()]
        .filter(([, cell]) => cell.value !== 0)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([name, cell]) => [name, cell.value]),
    )
  }

  counter(definition: MetricDefinition): CounterFamily {
    return this.#add(new CounterFamily(definition))
  }

  gauge(definition: MetricDefinition): GaugeFamily {
    return this.#add(new GaugeFamily(definition))
  }

  histogram(definition: MetricDefinition & { buckets: readonly number[] }): HistogramFamily {
    return this.#add(new HistogramFamily(definition))
  }

  /** Every labelled family, in definition order. */
  families(): MetricFamily[] {
    return [...this.#families.values()]
  }

  #add<F extends MetricFamily>(family: F): F {
    if (this.#families.has(family.name)) throw new Error(`metric ${family.name} is defined twice`)
    this.#families.set(family.name, family)
    return family
  }
}

/** One flat counter, bound (see `Metrics.cell`). */
export interface CounterCell {
  value: number
}

export interface MetricDefinition {
  /** Prometheus conventions: `session_cluster_` prefix, base units (seconds, bytes), counters end in `_total`. */
  name: string
  help: string
  /** Only labels with a small, fixed set of values: never a session id, a peer address or a route. */
  labelNames: readonly string[]
}

export type Labels = Readonly<Record<string, string>>

/** A family's samples at one moment, as an exporter reads them. */
export type MetricSample =
  | { labels: Labels; value: number }
  | { labels: Labels; buckets: ReadonlyArray<readonly [le: number, cumulativeCount: number]>; sum: number; count: number }

export type MetricFamily = CounterFamily | GaugeFamily | HistogramFamily

abstract class Family<Child> implements MetricDefinition {
  readonly name: string
  readonly help: string
  readonly labelNames: readonly string[]
  /** Label values joined → child. Binding allocates; adding to a bound child does not. */
  protected readonly children = new Map<string, { labels: Labels; child: Child }>()

  constructor(definition: MetricDefinition) {
    this.name = definition.name
    this.help = definition.help
    this.labelNames = definition.labelNames
  }

  /** The child for these label values (in labelNames order): bind once, keep it, add to it on the hot path. */
  labels(...values: string[]): Child {
    if (values.length !== this.labelNames.length) {
      throw new Error(`metric ${this.name} takes labels ${this.labelNames.join(', ') || '(none)'}, got ${values.length} values`)
    }
    const key = values.join('\u0000')
    let entry = this.children.get(key)
    if (!entry) {
      const labels = Object.fromEntries(this.labelNames.map((name, i) => [name, values[i]!]))
      entry = { labels, child: this.newChild() }
      this.children.set(key, entry)
    }
    return entry.child
  }

  protected abstract newChild(): Child
}

export class Counter {
  value = 0
  inc(by = 1): void {
    this.value += by
  }
}

export class CounterFamily extends Family<Counter> {
  readonly type = 'counter'
  protected newChild(): Counter {
    return new Counter()
  }
  collect(): MetricSample[] {
    return [...this.children.values()].map(({ labels, child }) => ({ labels, value: child.value }))
  }
}

/** Values known only when asked (sessions held, members by state): a callback reads them at collection time. */
export class GaugeFamily extends Family<never> {
  readonly type = 'gauge'
  #read: () => Array<{ labels: Labels; value: number }> = () => []
  protected newChild(): never {
    throw new Error(`gauge ${this.name} is read by a callback: use readBy()`)
  }
  /** Set what the gauge reports; the owner (the cluster) calls it once it exists. */
  readBy(read: () => Array<{ labels: Labels; value: number }>): void {
    this.#read = read
  }
  collect(): MetricSample[] {
    return this.#read()
  }
}

export class Histogram {
  /** Per bucket, observations at most its bound (not cumulative); the last slot is +Inf. */
  readonly #counts: Float64Array
  readonly #bounds: readonly number[]
  sum = 0
  count = 0
  constructor(bounds: readonly number[]) {
    this.#bounds = bounds
    this.#counts = new Float64Array(bounds.length + 1)
  }
  observe(value: number): void {
    let i = 0
    while (i < this.#bounds.length && value > this.#bounds[i]!) i++
    this.#counts[i]!++
    this.sum += value
    this.count++
  }
  cumulative(): Array<readonly [number, number]> {
    let running = 0
    return [...this.#bounds, Number.POSITIVE_INFINITY].map((le, i) => [le, (running += this.#counts[i]!)] as const)
  }
}

export class HistogramFamily extends Family<Histogram> {
  readonly type = 'histogram'
  readonly buckets: readonly number[]
  constructor(definition: MetricDefinition & { buckets: readonly number[] }) {
    super(definition)
    this.buckets = [...definition.buckets].sort((a, b) => a - b)
  }
  protected newChild(): Histogram {
    return new Histogram(this.buckets)
  }
  collect(): MetricSample[] {
    return [...this.children.values()].map(({ labels, child }) => ({ labels, buckets: child.cumulative(), sum: child.sum, count: child.count }))
  }
}
