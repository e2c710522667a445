import type { Clock } from '../../clock/clock.js'
import type { StreamMessage } from './messages.js'

export interface InboundStreamInit {
  /** Sender incarnation and our own. */
  senderId: string
  localId: string
  clock: Clock
  /** A lease lasts this long from the moment we asked for it. */
  leaseMs: number
  send(message: StreamMessage): void
  /** Apply a batch; throwing refuses it (its data failed our checks). */
  apply(d: Uint8Array, why: 'expired' | undefined): void
}

/** Lease requests remembered at most (older ones can no longer produce a useful lease). */
const MAX_OPEN_REQUESTS = 64

/**
 * One member's commits to us. Batches are applied as they come (the merge does not care about order, so a
 * resent or overtaking batch is simply applied or skipped as a duplicate) and acknowledged cumulatively, once
 * per event-loop turn. Reads of the sender's writes are trusted locally only while we hold a read lease from
 * it, and we ask for one only once an anti-entropy round with it has completed since the stream began or
 * broke (`markSynced`): before that we may lack what it committed before it knew about us.
 */
export class InboundStream {
  readonly #init: InboundStreamInit
  /** The sender's stream we follow (0: none seen yet). */
  #epoch = 0
  /** Every batch up to here is applied. */
  #prefix = 0
  /** Batches applied beyond the prefix (arrived out of order). */
  readonly #above = new Set<number>()
  #refused: number[] = []
  #ackScheduled = false
  #synced = false
  /** Monotonic end of our read lease on the sender's writes. */
  #leaseUntil = Number.NEGATIVE_INFINITY
  #nextRequest = 1
  /** Lease requests in flight → monotonic time we sent them. */
  readonly #requests = new Map<number, number>()
  #closed = false

  constructor(init: InboundStreamInit) {
    this.#init = init
  }

  get senderId(): string {
    return this.#init.senderId
  }

  get applied(): number {
    return this.#prefix
  }

  get synced(): boolean {
    return this.#synced
  }

  /** Whether reads may trust local state for this sender's writes right now. */
  get inSync(): boolean {
    return !this.#closed && this.#init.clock.monotonic() < this.#leaseUntil
  }

  /** Monotonic end of the current lease (-Infinity when none was granted). */
  get leaseUntil(): number {
    return this.#leaseUntil
  }

  onBatch(epoch: number, seq: number, d: Uint8Array, why: 'expired' | undefined): void {
    if (this.#closed) return
    this.#follow(epoch, 1)
    if (seq > this.#prefix && !this.#above.has(seq)) {
      try {
        this.#init.apply(d, why)
      } catch {
        // Refused, not skipped silently: the sender counts it and stops counting on us, and we stop trusting
        // our copy of its writes until anti-entropy succeeds.
        this.#refused.push(seq)
        this.#unsync()
      }
      this.#above.add(seq)
      while (this.#above.delete(this.#prefix + 1)) this.#prefix++
    }
    this.#scheduleAck()
  }

  /** The sender dropped batches before `next`: skip to it, and repair by anti-entropy before trusting it again. */
  onReset(epoch: number, next: number): void {
    if (this.#closed) return
    this.#follow(epoch, next)
    if (next - 1 > this.#prefix) this.#prefix = next - 1
    for (const seq of this.#above) if (seq <= this.#prefix) this.#above.delete(seq)
    while (this.#above.delete(this.#prefix + 1)) this.#prefix++
    this.#unsync()
    this.#scheduleAck()
  }

  onGrant(epoch: number, request: number): void {
    const sentAt = this.#requests.get(request)
    if (sentAt === undefined || this.#closed || epoch !== this.#epoch) return
    for (const r of this.#requests.keys()) if (r <= request) this.#requests.delete(r)
    // Measured from our request, which the grant followed: the sender's promise lasts at least as long.
    if (this.#synced) this.#leaseUntil = Math.max(this.#leaseUntil, sentAt + this.#init.leaseMs)
  }

  /** An anti-entropy round with the sender completed (it knew us when it described its state). */
  markSynced(): void {
    this.#synced = true
  }

  /** Ask the sender for a lease (with the current ack); only once synced. */
  requestLease(): void {
    if (this.#closed || !this.#synced) return
    const q = this.#nextRequest++
    this.#requests.set(q, this.#init.clock.monotonic())
    if (this.#requests.size > MAX_OPEN_REQUESTS) this.#requests.delete(this.#requests.keys().next().value!)
    this.#sendAck(q)
  }

  close(): void {
    this.#closed = true
    this.#requests.clear()
  }

  /**
   * A batch or reset of another epoch: the sender started a new stream (it removed us for a while and took us
   * back): its numbering starts over, and what it committed in between reached us only if anti-entropy brings it.
   */
  #follow(epoch: number, first: number): void {
    if (epoch === this.#epoch) return
    const fresh = this.#epoch === 0 && first === 1
    this.#epoch = epoch
    this.#prefix = first - 1
    this.#above.clear()
    this.#refused = []
    // The very first stream of a sender that knew us from the start needs no repair beyond the initial
    // anti-entropy round; a later one does.
    if (!fresh) this.#unsync()
  }

  #unsync(): void {
    this.#synced = false
    this.#leaseUntil = Number.NEGATIVE_INFINITY
    this.#requests.clear()
  }

  #scheduleAck(): void {
    if (this.#ackScheduled) return
    this.#ackScheduled = true
    // Once per turn: every batch that arrived in this read is acknowledged by one frame.
    setImmediate(() => {
      this.#ackScheduled = false
      if (!this.#closed) this.#sendAck(undefined)
    })
  }

  #sendAck(q: number | undefined): void {
    const { localId, senderId } = this.#init
    const refused = this.#refused
    this.#refused = []
    this.#init.send({
      t: 'ra',
      f: localId,
      r: senderId,
      e: this.#epoch,
      a: this.#prefix,
      ...(q === undefined ? {} : { q }),
      ...(refused.length > 0 ? { n: refused } : {}),
    })
  }
}
