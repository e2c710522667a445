import type { Clock, TimerHandle } from './clock/clock.js'
import type { Logger } from './logger.js'

/** One warning line per this long, at most, for events a peer can cause at will. */
export const WARNING_INTERVAL_MS = 10_000

/**
 * A warning about something a peer can make happen as often as it likes (a connection turned away, a request
 * refused): the first occurrence is logged at once, with its details; the ones that follow within the interval are
 * only counted, by kind, and logged as one summary line when it ends. A flood then costs the log two lines per
 * interval, however many sockets or requests it sends; the exact numbers are in the metrics.
 */
export class ThrottledWarning {
  readonly #logger: Logger
  readonly #clock: Clock
  readonly #message: string
  readonly #intervalMs: number
  /** Kind → occurrences since the last line. */
  #suppressed = new Map<string, number>()
  #lastLineAt = Number.NEGATIVE_INFINITY
  #timer: TimerHandle | undefined

  constructor(logger: Logger, clock: Clock, message: string, intervalMs = WARNING_INTERVAL_MS) {
    this.#logger = logger
    this.#clock = clock
    this.#message = message
    this.#intervalMs = intervalMs
  }

  note(kind: string, fields: Record<string, unknown> = {}): void {
    const now = this.#clock.monotonic()
    if (this.#suppressed.size === 0 && now - this.#lastLineAt >= this.#intervalMs) {
      this.#lastLineAt = now
      this.#logger.warn(this.#message, { kind, ...fields })
      return
    }
    this.#suppressed.set(kind, (this.#suppressed.get(kind) ?? 0) + 1)
    this.#timer ??= this.#clock.setTimeout(() => this.flush(), Math.max(0, this.#lastLineAt + this.#intervalMs - now))
  }

  /** Log the summary of what was counted since the last line, if anything was (also on stop). */
  flush(): void {
    this.#timer?.cancel()
    this.#timer = undefined
    if (this.#suppressed.size === 0) return
    const counts = Object.fromEntries(this.#suppressed)
    this.#suppressed = new Map()
    this.#lastLineAt = this.#clock.monotonic()
    this.#logger.warn(`${this.#message} (more since the last line)`, { counts, intervalMs: this.#intervalMs })
  }
}
