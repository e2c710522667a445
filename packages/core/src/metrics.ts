/**
 * One metrics component instead of a counter field per event (Tomcat's counterSend_EVT_*):
 * named monotonic counters, read as a plain object by `status()` and by tests.
 */
export class Metrics {
  readonly #counters = new Map<string, number>()

  increment(name: string, by = 1): void {
    this.#counters.set(name, (this.#counters.get(name) ?? 0) + by)
  }

  get(name: string): number {
    return this.#counters.get(name) ?? 0
  }

  /** A snapshot, keys sorted, for status pages and assertions. */
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.#counters.entries()].sort(([a], [b]) => a.localeCompare(b)))
  }
}
