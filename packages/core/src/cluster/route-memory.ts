/**
 * Routes a session had before it was rebound, remembered for a grace period so requests already in
 * flight with the old cookie still find their session (JvmRouteBinderValve has no such grace).
 * Local, derived from route changes this node applied; nothing here is replicated.
 */
export class RouteMemory {
  readonly #previous = new Map<string, Array<{ route: string; until: number }>>()

  constructor(private readonly graceMs: number) {}

  remember(base: string, oldRoute: string, now: number): void {
    const list = (this.#previous.get(base) ?? []).filter((p) => p.until > now && p.route !== oldRoute)
    list.push({ route: oldRoute, until: now + this.graceMs })
    // 'always' rebinding can flip a route on every hop; a handful of recent routes is plenty.
    this.#previous.set(base, list.slice(-4))
  }

  accepts(base: string, route: string, now: number): boolean {
    return this.#previous.get(base)?.some((p) => p.route === route && p.until > now) ?? false
  }

  forget(base: string): void {
    this.#previous.delete(base)
  }

  prune(now: number): void {
    for (const [base, list] of this.#previous) {
      const live = list.filter((p) => p.until > now)
      if (live.length === 0) this.#previous.delete(base)
      else this.#previous.set(base, live)
    }
  }
}
