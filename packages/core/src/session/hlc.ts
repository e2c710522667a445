import type { Clock } from '../clock/clock.js'

/**
 * A hybrid logical clock stamp: wall milliseconds, a counter that orders events within one millisecond
 * (or while the wall clock stands still or goes back), and the node id that breaks the remaining ties.
 * Kept as a tuple because one travels with every attribute write.
 */
export type Stamp = readonly [wallMs: number, counter: number, node: string]

/** Lower than every stamp a node can produce (node ids are never empty): the stamp of "never written". */
export const ZERO_STAMP: Stamp = Object.freeze([0, 0, '']) as Stamp

/**
 * The largest counter a stamp may carry, on the wire and in the clock. A clock whose counter would pass it
 * moves its wall time on by a millisecond instead, so one absurd stamp from a peer (counter 2^53-1) can
 * never push a node into stamps that its peers refuse.
 */
export const MAX_STAMP_COUNTER = 0xffff_ffff

/** The smallest stamp of `node` that orders after `stamp`. */
export function stampAfter(stamp: Stamp, node: string): Stamp {
  return stamp[1] < MAX_STAMP_COUNTER ? [stamp[0], stamp[1] + 1, node] : [stamp[0] + 1, 0, node]
}

/** Total order: wall time, then counter, then node id (code-unit order, the same on every node). */
export function compareStamps(a: Stamp, b: Stamp): number {
  if (a === b) return 0 // the writes of one commit share their stamp
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1
  if (a[1] !== b[1]) return a[1] < b[1] ? -1 : 1
  if (a[2] === b[2]) return 0
  return a[2] < b[2] ? -1 : 1
}

export function maxStamp(a: Stamp, b: Stamp): Stamp {
  return compareStamps(a, b) >= 0 ? a : b
}

export interface HybridClockOptions {
  /**
   * How far ahead of our own wall clock an observed stamp may move us. A peer whose clock is set
   * hours ahead would otherwise drag every node's stamps with it for good. @default 60_000
   */
  maxDriftMs?: number
}

/** Issues stamps that are strictly increasing per instance and above every stamp it has observed. */
export class HybridClock {
  readonly nodeId: string
  readonly #clock: Clock
  readonly #maxDriftMs: number
  #wallMs = 0
  #counter = 0
  #cappedObservations = 0

  constructor(nodeId: string, clock: Clock, options: HybridClockOptions = {}) {
    this.nodeId = nodeId
    this.#clock = clock
    this.#maxDriftMs = options.maxDriftMs ?? 60_000
  }

  now(): Stamp {
    const physical = this.#clock.now()
    if (physical > this.#wallMs) {
      this.#wallMs = physical
      this.#counter = 0
    } else if (this.#counter < MAX_STAMP_COUNTER) {
      this.#counter++
    } else {
      this.#wallMs++
      this.#counter = 0
    }
    return [this.#wallMs, this.#counter, this.nodeId]
  }

  /**
   * A fresh stamp that orders after `replaced` too, for a local write of values that carry `replaced`.
   * Unlike `observe`, this is not capped: a value written by a node whose clock runs minutes ahead must
   * still lose to the write that replaces it, or an acknowledged write would vanish at every replica.
   * The clock itself is not dragged along, so other writes keep stamps near real time.
   */
  after(replaced: Stamp | undefined): Stamp {
    const stamp = this.now()
    if (!replaced || compareStamps(stamp, replaced) > 0) return stamp
    return stampAfter(replaced, this.nodeId)
  }

  /**
   * Move forward past `remote` so the next `now()` orders after it. Returns false (and counts it) when
   * the remote wall time was beyond `maxDriftMs` of our clock and we only moved up to that limit.
   */
  observe(remote: Stamp): boolean {
    const limit = this.#clock.now() + this.#maxDriftMs
    const capped = remote[0] > limit
    const wallMs = capped ? limit : remote[0]
    const counter = Math.min(remote[1], MAX_STAMP_COUNTER)
    if (wallMs > this.#wallMs) {
      this.#wallMs = wallMs
      // Capped: the remote counter belongs to a wall time we did not adopt.
      this.#counter = capped ? 0 : counter
    } else if (wallMs === this.#wallMs && !capped) {
      this.#counter = Math.max(this.#counter, counter)
    }
    if (capped) this.#cappedObservations++
    return !capped
  }

  /** How many observed stamps were too far in the future and were capped. */
  get cappedObservations(): number {
    return this.#cappedObservations
  }
}
