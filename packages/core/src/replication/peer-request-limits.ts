import type { Clock } from '../clock/clock.js'
import { PeerBusyError } from '../errors.js'
import type { Logger } from '../logger.js'
import { type Address, addressKey } from '../member.js'
import type { Metrics } from '../metrics.js'
import { ThrottledWarning } from '../throttled-warning.js'

/**
 * The requests a peer can make that cost this node work beyond their own size, each with a budget of its own:
 * - `state-transfer`: starting a transfer (a snapshot of the whole table); counted in transfers;
 * - `anti-entropy`: a digest comparison (a pass over the whole table when any bucket differs); counted in requests;
 * - `records`: records or ids a request makes this node look up, merge or encode (anti-entropy repairs, fetches
 *   before a read, expiry checks); counted in records, so one request of 10,000 ids costs what 10,000 of one do.
 */
export type LimitedWork = 'state-transfer' | 'anti-entropy' | 'records'

export interface Rate {
  /** Sustained rate, in the budget's unit per second. */
  perSecond: number
  /** What a peer may spend at once after a quiet spell. */
  burst: number
}

/** Peers whose budgets are remembered; beyond it the least recently seen is forgotten (and starts afresh). */
const MAX_TRACKED_PEERS = 4_096

interface Bucket {
  /** May go below zero: a request is let in while the budget is not in debt, then pays its whole cost. */
  tokens: number
  at: number
}

/**
 * Token buckets per peer (its claimed listening address) and kind of work. A request the peer's budget cannot pay
 * for is refused with a PeerBusyError, and the requester retries later or asks another member; nothing is dropped
 * silently. Work found out only while answering (the keys an anti-entropy digest lists) is paid afterwards with
 * `charge`.
 *
 * A holder of the cluster key can claim many addresses, so these bound the work per address; what bounds the
 * total is the per-request size limits, the state-transfer caps (state-transfer.ts), and the number of
 * addresses remembered here.
 */
export class PeerRequestLimits {
  readonly #clock: Clock
  readonly #metrics: Metrics
  readonly #rates: Record<LimitedWork, Rate>
  readonly #buckets = new Map<string, Bucket>()
  readonly #warnings: ThrottledWarning

  constructor(init: { clock: Clock; metrics: Metrics; logger: Logger; rates: Record<LimitedWork, Rate> }) {
    this.#clock = init.clock
    this.#metrics = init.metrics
    this.#rates = init.rates
    this.#warnings = new ThrottledWarning(init.logger, init.clock, 'refusing peer requests over their rate limits')
  }

  /**
   * Let a request costing `cost` in and pay for it, or throw PeerBusyError. It needs its cost in the budget, or the
   * whole burst when it costs more (it then leaves the budget in debt, which the next requests wait out).
   */
  admit(work: LimitedWork, from: Address, cost = 1): void {
    const bucket = this.#bucket(work, from)
    const { perSecond, burst } = this.#rates[work]
    const needed = Math.min(cost, burst)
    // (A hair of tolerance: refills are sums of fractions.)
    if (bucket.tokens + 1e-9 < needed) {
      this.#metrics.increment(`limits.refused.${work}`)
      this.#warnings.note(work, { peer: addressKey(from) })
      const waitMs = Math.ceil(((needed - bucket.tokens) / perSecond) * 1000)
      throw new PeerBusyError(`over its ${work} budget (${perSecond}/s): retry in ${waitMs} ms`)
    }
    bucket.tokens -= cost
  }

  /** Charge work found out while answering (it may put the budget in debt, refusing the next requests). */
  charge(work: LimitedWork, from: Address, cost: number): void {
    if (cost > 0) this.#bucket(work, from).tokens -= cost
  }

  /** Log the summary of refusals not yet logged (on stop). */
  flush(): void {
    this.#warnings.flush()
  }

  #bucket(work: LimitedWork, from: Address): Bucket {
    const key = `${work} ${addressKey(from)}`
    const { perSecond, burst } = this.#rates[work]
    const now = this.#clock.monotonic()
    let bucket = this.#buckets.get(key)
    if (bucket) {
      this.#buckets.delete(key)
      bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * perSecond)
      bucket.at = now
    } else {
      bucket = { tokens: burst, at: now }
      if (this.#buckets.size >= MAX_TRACKED_PEERS) this.#buckets.delete(this.#buckets.keys().next().value!)
    }
    // Most recently seen last: the first is the one to forget.
    this.#buckets.set(key, bucket)
    return bucket
  }
}
