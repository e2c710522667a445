import { randomInt } from 'node:crypto'
import type { Clock, TimerHandle } from '../../clock/clock.js'
import type { StreamMessage } from './messages.js'

/** How a commit's wait for one member ended. */
export type MemberOutcome =
  /** The member applied the batch. */
  | 'applied'
  /** The member was excluded (it stopped acknowledging; its read lease has run out, so it cannot serve stale data). */
  | 'excluded'
  /** The member left, failed or was replaced: nothing to wait for. */
  | 'gone'
  /** The member refused the batch (its checks failed): counted as a failed replication. */
  | 'refused'

export interface OutboundStreamInit {
  /** Receiver incarnation and our own. */
  peerId: string
  localId: string
  clock: Clock
  send(message: StreamMessage): void
  /** A commit waits this long for the member before excluding it (once; later commits do not wait). */
  ackTimeoutMs: number
  /** How long a granted read lease lasts (measured from the receiver's request). */
  leaseMs: number
  /** Bytes of unacknowledged batches kept for resending; beyond it the stream resets (anti-entropy repairs). */
  maxUnackedBytes: number
  /** First resend of unacknowledged batches when acks stop coming over a live connection; doubles up to 8x. */
  retransmitMs: number
  /** Told, per batch acknowledged, how long it took since it was first sent (ms). */
  onAcked?: (ms: number) => void
  /**
   * A batch about to be sent again, long after it was committed perhaps: returns what of it is still worth sending
   * (the same bytes, or fewer changes). Old changes to a session destroyed since must not reach a member that has
   * already forgotten its tombstone.
   */
  revise?: (d: Uint8Array) => Uint8Array
  /** Told how many batches each resend sends again (counted as retransmissions). */
  onRetransmit?: (batches: number) => void
  /** Why the member stopped being waited for (counted and logged by the owner). */
  onExcluded(reason: ExclusionReason): void
}

export type ExclusionReason = 'ack-timeout' | 'connection-lost' | 'overflow' | 'refused'

interface Batch {
  seq: number
  /** Encoded deltas; revised (made smaller) when resent. */
  d: Uint8Array
  why: 'expired' | undefined
  sentAt: number
}

interface Waiter {
  seq: number
  done(outcome: MemberOutcome): void
}

/**
 * Our commits to one member incarnation, numbered. Keeps what the member has not acknowledged (bounded) and
 * sends it again after a reconnect or when acks stop, so a frame lost with a reset connection is not lost for
 * good. Grants the member read leases while it keeps up, and excludes it (stops waiting for it) only once the
 * last lease it was granted has run out: a member we stop waiting for can no longer serve reads that would
 * miss our commits.
 */
export class OutboundStream {
  readonly #init: OutboundStreamInit
  /** This stream's epoch: a later stream to the same member (after a removal) has another. */
  readonly #epoch = randomInt(1, 2 ** 47)
  #seq = 0
  #acked = 0
  #unacked: Batch[] = []
  #unackedBytes = 0
  #waiters: Waiter[] = []
  /** Not waited for until it catches up. */
  #excluded = false
  /** Why exclusion is due, once the lease runs out. */
  #excluding: ExclusionReason | undefined
  /** Monotonic end of the last lease granted. */
  #promisedUntil = Number.NEGATIVE_INFINITY
  #linkDown = false
  #retransmitMs: number
  #lastProgressAt: number
  #timer: TimerHandle | undefined
  #closed = false

  constructor(init: OutboundStreamInit) {
    this.#init = init
    this.#retransmitMs = init.retransmitMs
    this.#lastProgressAt = init.clock.monotonic()
  }

  get peerId(): string {
    return this.#init.peerId
  }

  /** Whether commits wait for this member. */
  get included(): boolean {
    return !this.#excluded && !this.#closed
  }

  get acked(): number {
    return this.#acked
  }

  get sent(): number {
    return this.#seq
  }

  /** Monotonic end of the last lease granted to the member. */
  get promisedUntil(): number {
    return this.#promisedUntil
  }

  /** Our connection to the member is down (no resends until it is back). */
  get linkIsDown(): boolean {
    return this.#linkDown
  }

  get unackedBytes(): number {
    return this.#unackedBytes
  }

  /** Send a batch; returns its sequence number. */
  push(d: Uint8Array, why: 'expired' | undefined): number {
    const batch: Batch = { seq: ++this.#seq, d, why, sentAt: this.#init.clock.monotonic() }
    if (this.#unacked.length === 0) this.#lastProgressAt = batch.sentAt
    this.#unacked.push(batch)
    this.#unackedBytes += d.length
    this.#transmit(batch)
    if (this.#unackedBytes > this.#init.maxUnackedBytes) this.#overflow()
    this.#arm()
    return batch.seq
  }

  /** Resolves once the member applied batch `seq`, or stops being waited for. */
  wait(seq: number): Promise<MemberOutcome> {
    if (this.#closed && this.#waiters.length === 0) return Promise.resolve('gone')
    if (seq <= this.#acked) return Promise.resolve('applied')
    if (this.#excluded) return Promise.resolve('excluded')
    return new Promise((done) => {
      this.#waiters.push({ seq, done })
      this.#arm()
    })
  }

  onAck(epoch: number, acked: number, leaseRequest: number | undefined, refused: readonly number[] | undefined): void {
    if (this.#closed) return
    if (epoch !== this.#epoch) {
      // It speaks of another stream (before we removed it, or none yet): tell it where this one stands.
      this.#init.send({ t: 'rr', f: this.#init.localId, r: this.#init.peerId, e: this.#epoch, s: this.#seq + 1 - this.#unacked.length })
      return
    }
    if (acked < this.#acked) {
      // It acknowledges less than it once did: it removed us meanwhile and follows this stream afresh, from batch 1,
      // which we no longer hold. Tell it where the stream continues (it repairs the rest by anti-entropy).
      this.#init.send({ t: 'rr', f: this.#init.localId, r: this.#init.peerId, e: this.#epoch, s: this.#acked + 1 })
    }
    const now = this.#init.clock.monotonic()
    if (refused && refused.length > 0) this.#startExcluding('refused')
    if (acked > this.#acked && acked <= this.#seq) {
      this.#acked = acked
      this.#lastProgressAt = now
      this.#retransmitMs = this.#init.retransmitMs
      let drop = 0
      while (drop < this.#unacked.length && this.#unacked[drop]!.seq <= acked) {
        const batch = this.#unacked[drop++]!
        this.#unackedBytes -= batch.d.length
        this.#init.onAcked?.(now - batch.sentAt)
      }
      if (drop > 0) this.#unacked = this.#unacked.slice(drop)
      this.#settle((w) => (w.seq <= acked ? 'applied' : undefined))
    }
    if (this.#excluded && this.#acked === this.#seq && this.#excluding === undefined) {
      // Caught up with everything (resent batches included): wait for it again.
      this.#excluded = false
    }
    if (leaseRequest !== undefined && this.#mayGrant(now)) {
      this.#promisedUntil = now + this.#init.leaseMs
      this.#init.send({ t: 'rg', f: this.#init.localId, r: this.#init.peerId, e: this.#epoch, q: leaseRequest })
    }
    this.#arm()
  }

  /** Our connection to the member dropped (not refused): no more leases until it is back. */
  linkDown(): void {
    if (this.#closed) return
    this.#linkDown = true
    this.#startExcluding('connection-lost')
  }

  /** Connected again: send everything it has not acknowledged, in order. */
  linkUp(): void {
    if (this.#closed) return
    this.#linkDown = false
    if (this.#excluding === 'connection-lost') this.#excluding = undefined
    this.#resend()
  }

  /**
   * The member left or was removed. Waiters are released at once when it cannot serve any more (it left, or its
   * process is gone); when failure detection merely gave up on it (`unproven`), only once its last lease ran out,
   * because it may still be running and serving reads.
   */
  close(unproven = false): void {
    if (this.#closed) return
    this.#closed = true
    this.#timer?.cancel()
    this.#unacked = []
    this.#unackedBytes = 0
    const wait = unproven ? this.#promisedUntil - this.#init.clock.monotonic() : 0
    if (wait <= 0) this.#settle(() => 'gone')
    else this.#init.clock.setTimeout(() => this.#settle(() => 'gone'), wait)
  }

  #mayGrant(now: number): boolean {
    if (this.#excluded || this.#excluding !== undefined || this.#linkDown) return false
    // Stop granting early enough that the last lease has run out when the ack timeout strikes: exclusion then
    // never has to wait beyond ackTimeoutMs.
    const oldest = this.#unacked[0]
    return !oldest || now - oldest.sentAt < this.#init.ackTimeoutMs - this.#init.leaseMs
  }

  #startExcluding(reason: ExclusionReason): void {
    this.#excluding ??= reason
    this.#arm()
  }

  #overflow(): void {
    // Keeping more would let one slow member hold unbounded memory: forget the batches, tell it where the stream
    // continues (it repairs the gap by anti-entropy) and stop counting on it.
    this.#unacked = []
    this.#unackedBytes = 0
    this.#init.send({ t: 'rr', f: this.#init.localId, r: this.#init.peerId, e: this.#epoch, s: this.#seq + 1 })
    this.#startExcluding('overflow')
  }

  #transmit(batch: Batch): void {
    const { localId, peerId } = this.#init
    const e = this.#epoch
    const message: StreamMessage = batch.why
      ? { t: 'rd', f: localId, r: peerId, e, s: batch.seq, d: batch.d, why: batch.why }
      : { t: 'rd', f: localId, r: peerId, e, s: batch.seq, d: batch.d }
    this.#init.send(message)
  }

  #resend(): void {
    if (this.#unacked.length > 0) this.#init.onRetransmit?.(this.#unacked.length)
    for (const batch of this.#unacked) {
      const revised = this.#init.revise?.(batch.d) ?? batch.d
      this.#unackedBytes += revised.length - batch.d.length
      batch.d = revised
      this.#transmit(batch)
    }
    this.#lastProgressAt = this.#init.clock.monotonic()
  }

  #settle(outcome: (w: Waiter) => MemberOutcome | undefined): void {
    if (this.#waiters.length === 0) return
    const keep: Waiter[] = []
    for (const w of this.#waiters) {
      const result = outcome(w)
      if (result) w.done(result)
      else keep.push(w)
    }
    this.#waiters = keep
  }

  /** One timer for whatever is due next: exclusion, or a resend when acks stopped. */
  #arm(): void {
    this.#timer?.cancel()
    this.#timer = undefined
    if (this.#closed) return
    const due = this.#nextDue()
    if (due === undefined) return
    const delay = Math.max(0, due - this.#init.clock.monotonic())
    this.#timer = this.#init.clock.setTimeout(() => this.#onTimer(), delay)
  }

  #nextDue(): number | undefined {
    const oldest = this.#unacked[0]
    let due: number | undefined
    const consider = (t: number) => {
      due = due === undefined ? t : Math.min(due, t)
    }
    if (!this.#excluded) {
      // Excluded once the last lease has run out: at once for a known reason, else at the ack timeout.
      if (this.#excluding !== undefined) consider(this.#promisedUntil)
      else if (oldest && this.#waiters.length > 0) consider(Math.max(oldest.sentAt + this.#init.ackTimeoutMs, this.#promisedUntil))
    }
    if (oldest && !this.#linkDown) consider(this.#lastProgressAt + this.#retransmitMs)
    return due
  }

  #onTimer(): void {
    this.#timer = undefined
    if (this.#closed) return
    const now = this.#init.clock.monotonic()
    const oldest = this.#unacked[0]
    if (oldest && !this.#linkDown && now >= this.#lastProgressAt + this.#retransmitMs) {
      this.#resend()
      this.#retransmitMs = Math.min(this.#retransmitMs * 2, this.#init.retransmitMs * 8)
    }
    const timedOut = oldest !== undefined && now >= oldest.sentAt + this.#init.ackTimeoutMs
    if (timedOut && this.#waiters.length > 0) this.#excluding ??= 'ack-timeout'
    if (!this.#excluded && this.#excluding !== undefined && now >= this.#promisedUntil) {
      const reason = this.#excluding
      this.#excluded = true
      if (reason !== 'connection-lost') this.#excluding = undefined
      this.#settle(() => 'excluded')
      this.#init.onExcluded(reason)
    }
    this.#arm()
  }
}
