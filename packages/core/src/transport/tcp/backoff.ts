/**
 * Exponential reconnect delay with jitter: doubles from `initialMs` up to `maxMs`, each delay drawn from
 * [d/2, d] so that nodes restarted together do not reconnect in lockstep.
 */
export class Backoff {
  #attempt = 0

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  next(): number {
    const ceiling = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.#attempt, 30))
    this.#attempt++
    return Math.round(ceiling / 2 + (this.random() * ceiling) / 2)
  }

  reset(): void {
    this.#attempt = 0
  }
}
