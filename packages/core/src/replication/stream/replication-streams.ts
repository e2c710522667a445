import type { Channel } from '../../channel/channel.js'
import type { Clock, TimerHandle } from '../../clock/clock.js'
import type { Codec } from '../../codec/codec.js'
import { MalformedMessageError } from '../../errors.js'
import type { Logger } from '../../logger.js'
import { type Address, addressKey } from '../../member.js'
import type { LeaveReason, MemberInfo, Membership } from '../../membership/membership.js'
import type { Histogram, Metrics } from '../../metrics.js'
import { type Delta, fromWire, toWire, type WireDelta, wireDeltaTarget } from '../../session/index.js'
import { MAX_DELTAS_PER_MESSAGE } from '../messages.js'
import { InboundStream } from './inbound-stream.js'
import { parseAck, parseBatch, parseGrant, parseReset, type StreamMessage } from './messages.js'
import { type ExclusionReason, type MemberOutcome, OutboundStream } from './outbound-stream.js'

export interface ReplicationStreamsInit {
  channel: Channel
  membership: Membership
  codec: Codec
  clock: Clock
  metrics: Metrics
  logger: Logger
  ackTimeoutMs: number
  /** Read lease length; leases are renewed four times per lease. */
  leaseMs: number
  /** Unacknowledged bytes kept per member for resending. */
  maxUnackedBytes: number
  /** A batch is cut here (bytes of encoded deltas) so frames stay far below maxFrameBytes. */
  maxBatchBytes: number
  /**
   * Send each batch as soon as the code that committed it yields (a microtask), instead of in this turn's check
   * phase. `async` mode wants it: the commit's answer goes out right after, and the change should reach the
   * other members before the client's next request does (or that node waits for it, see version tokens).
   * Costs coalescing: commits of one turn that finish in separate callbacks leave in separate batches.
   */
  flushEarly?: boolean
  /** Which changes committed here earlier still go when their batch is sent again. */
  resendCheck: ResendCheck
  /** Apply a member's deltas; throw MalformedMessageError to refuse them. */
  apply(deltas: Delta[], why: 'expired' | undefined): void
  /** A member left; `inSync` says whether we still held a read lease on its writes at that moment. */
  onMemberGone(member: MemberInfo, inSync: boolean, reason: LeaveReason): void
  /** A member was fenced off: excluded from sync replication until it catches up (for status events). */
  onFenced?(member: MemberInfo, reason: ExclusionReason): void
}

/**
 * Whether a change to a session, committed here earlier and about to be sent again, still matters. Not once the
 * session is destroyed here or gone from this node: a member may have purged its tombstone meanwhile (every member,
 * us included, held it), and the old change would bring the session back there.
 */
export interface ResendCheck {
  worthResending(id: string, destroys: boolean): boolean
  /** Grows whenever a session stops being live here: a batch checked since it last grew needs no second look. */
  removals(): number
}

/** What one commit's replication came to, per member incarnation. */
export type CommitOutcomes = Map<string, MemberOutcome>

interface PendingBatch {
  deltas: WireDelta[]
  why: 'expired' | undefined
  /** Member incarnations the batch goes to; undefined: every member. */
  targets: readonly string[] | undefined
  waiters: Array<(outcomes: Promise<CommitOutcomes>) => void>
  /**
   * `resendCheck.removals()` when the first of these deltas was committed: every session they change was live here
   * then (or they destroy it), so a resend need not check them again until a session stops being live.
   */
  removals: number
}

/**
 * The per-member replication streams of this node. Commits made in
 * one event-loop turn leave as one numbered batch per member, encoded once; members acknowledge cumulatively
 * once per turn. What a member has not acknowledged is kept (bounded) and resent after a reconnect or when
 * acks stop, so a reset connection loses nothing; a gap that cannot be resent is repaired by anti-entropy.
 * Read leases travel on the same messages: a member asks for one with its ack, and we grant it while it keeps
 * up with our commits (see OutboundStream / InboundStream).
 */
export class ReplicationStreams {
  readonly #init: ReplicationStreamsInit
  readonly #out = new Map<string, OutboundStream>()
  readonly #in = new Map<string, InboundStream>()
  readonly #pending = new Map<string, PendingBatch>()
  #flushScheduled = false
  /**
   * Monotonic end of leases granted to members removed without proof that they stopped (failure detection gave
   * up on them): they may still serve reads until then, so no commit completes before it.
   */
  #leaseFence = Number.NEGATIVE_INFINITY
  #timer: TimerHandle | undefined
  #unsubscribe: Array<() => void> = []
  #running = false
  /** Encoded batch → `resendCheck.removals()` when its changes were last known to matter (see `#revise`). */
  readonly #checkedAt = new WeakMap<Uint8Array, number>()
  /** Batch sent → acknowledged, every member's, bound once. */
  readonly #ackLatency: Histogram

  constructor(init: ReplicationStreamsInit) {
    this.#init = init
    this.#ackLatency = init.metrics.cluster.ackLatency.labels()
    const { channel } = init
    channel.handle('rd', (m, { from }) => this.#onBatch(parseBatch(m), from))
    channel.handle('ra', (m) => this.#onAck(parseAck(m)))
    channel.handle('rg', (m) => {
      const g = parseGrant(m)
      if (this.#addressedToUs(g)) this.#in.get(g.f)?.onGrant(g.e, g.q)
    })
    channel.handle('rr', (m, { from }) => {
      const r = parseReset(m)
      if (this.#addressedToUs(r)) this.#inbound(r.f, from).onReset(r.e, r.s)
    })
  }

  start(): void {
    if (this.#running) return
    this.#running = true
    const { membership, channel, clock, leaseMs } = this.#init
    for (const member of membership.members()) this.#open(member)
    this.#unsubscribe.push(
      membership.on('join', (m) => this.#open(m)),
      membership.on('leave', (m, reason) => this.#close(m, reason)),
      channel.transport.on('peerDown', (peer) => this.#outboundAt(peer)?.linkDown()),
      channel.transport.on('peerUp', (peer) => this.#outboundAt(peer)?.linkUp()),
    )
    this.#timer = clock.setInterval(() => this.#renewLeases(), Math.max(1, Math.floor(leaseMs / 4)))
  }

  stop(): void {
    this.#running = false
    this.#timer?.cancel()
    for (const off of this.#unsubscribe.splice(0)) off()
    for (const stream of this.#out.values()) stream.close()
    for (const stream of this.#in.values()) stream.close()
    this.#out.clear()
    this.#in.clear()
  }

  /**
   * Send deltas to every member, or to the members `targets` names (a primary/backup strategy sends a session's
   * changes to its owners only; a target that is no member has no outcome). The promise resolves with each
   * member's outcome once every member applied them or stopped being waited for (`sync`); callers in `async`
   * mode need not await it.
   */
  publish(deltas: Delta[], why?: 'expired', targets?: readonly string[]): Promise<CommitOutcomes> {
    const key = `${why ?? ''}|${targets ? [...targets].sort().join(',') : '*'}`
    let batch = this.#pending.get(key)
    if (!batch) this.#pending.set(key, (batch = { deltas: [], why, targets, waiters: [], removals: this.#init.resendCheck.removals() }))
    for (const delta of deltas) batch.deltas.push(toWire(delta))
    const result = new Promise<Promise<CommitOutcomes>>((resolve) => batch.waiters.push(resolve))
    this.#scheduleFlush()
    return result.then((outcomes) => outcomes)
  }

  /** Whether commits reach this member now: its stream waits for it and its connection is up. */
  reaches(memberId: string): boolean {
    const stream = this.#out.get(memberId)
    return stream?.included === true && !stream.linkIsDown
  }

  /** Whether we hold a read lease on this member's writes now. */
  inSyncWith(memberId: string): boolean {
    return this.#in.get(memberId)?.inSync ?? false
  }

  /** Whether an anti-entropy round with this member completed since its stream began or broke. */
  isSynced(memberId: string): boolean {
    return this.#in.get(memberId)?.synced ?? false
  }

  /** An anti-entropy round with this member completed while it knew us: its stream may grant leases now. */
  markSynced(memberId: string, from: Address): void {
    const stream = this.#inbound(memberId, from)
    stream.markSynced()
    // Ask at once rather than at the next renewal: a node that just joined serves from local state sooner.
    stream.requestLease()
  }

  /** Per member: batches sent and acknowledged, bytes waiting, whether commits wait for it, whether we hold its lease. */
  describe(): Array<{ id: string; sent: number; acked: number; unackedBytes: number; included: boolean; linkDown: boolean; synced: boolean; leased: boolean }> {
    return [...this.#out.values()].map((s) => ({
      id: s.peerId,
      sent: s.sent,
      acked: s.acked,
      unackedBytes: s.unackedBytes,
      included: s.included,
      linkDown: s.linkIsDown,
      synced: this.isSynced(s.peerId),
      leased: this.inSyncWith(s.peerId),
    }))
  }

  #addressedToUs(m: { r: string }): boolean {
    if (m.r === this.#init.membership.local.id) return true
    // Meant for an earlier incarnation at our address: its sequence numbers are not ours.
    this.#init.metrics.increment('replication.stream.stale-incarnation')
    return false
  }

  #open(member: MemberInfo): OutboundStream {
    let stream = this.#out.get(member.id)
    if (stream) return stream
    const { clock, ackTimeoutMs, leaseMs, maxUnackedBytes, membership } = this.#init
    stream = new OutboundStream({
      peerId: member.id,
      localId: membership.local.id,
      clock,
      ackTimeoutMs,
      leaseMs,
      maxUnackedBytes,
      retransmitMs: Math.max(50, Math.floor(ackTimeoutMs / 4)),
      send: (message) => this.#send(member.address, message),
      revise: (d) => this.#revise(d),
      onRetransmit: (batches) => this.#init.metrics.cluster.retransmissions.inc(batches),
      onAcked: (ms) => this.#ackLatency.observe(ms / 1000),
      onExcluded: (reason) => this.#excluded(member, reason),
    })
    this.#out.set(member.id, stream)
    this.#inbound(member.id, member.address)
    return stream
  }

  #close(member: MemberInfo, reason: LeaveReason): void {
    const inbound = this.#in.get(member.id)
    const inSync = inbound?.inSync ?? false
    const outbound = this.#out.get(member.id)
    if (outbound && reason === 'failed') this.#leaseFence = Math.max(this.#leaseFence, outbound.promisedUntil)
    outbound?.close(reason === 'failed')
    this.#out.delete(member.id)
    inbound?.close()
    this.#in.delete(member.id)
    this.#init.onMemberGone(member, inSync, reason)
  }

  #excluded(member: MemberInfo, reason: ExclusionReason): void {
    const { metrics, logger, membership } = this.#init
    metrics.increment(`replication.exclusions.${reason}`)
    if (reason === 'ack-timeout') {
      metrics.increment('replication.ack-misses')
      metrics.cluster.ackMisses.inc()
    }
    logger.warn('member excluded from sync replication until it catches up', {
      route: member.route,
      address: addressKey(member.address),
      reason,
    })
    this.#init.onFenced?.(member, reason)
    if (reason === 'ack-timeout' || reason === 'refused') membership.suspect(member.id, `replication ${reason}`)
  }

  #inbound(senderId: string, from: Address): InboundStream {
    let stream = this.#in.get(senderId)
    if (stream) return stream
    const { clock, leaseMs, membership } = this.#init
    stream = new InboundStream({
      senderId,
      localId: membership.local.id,
      clock,
      leaseMs,
      send: (message) => {
        if (message.t === 'ra') this.#init.metrics.cluster.acks.sent.inc()
        this.#send(from, message)
      },
      apply: (d, why) => this.#applyBatch(d, why),
    })
    this.#in.set(senderId, stream)
    return stream
  }

  #outboundAt(peer: Address): OutboundStream | undefined {
    const key = addressKey(peer)
    const member = this.#init.membership.members().find((m) => addressKey(m.address) === key)
    return member ? this.#out.get(member.id) : undefined
  }

  #onBatch(batch: Extract<StreamMessage, { t: 'rd' }>, from: Address): void {
    if (!this.#addressedToUs(batch)) return
    this.#inbound(batch.f, from).onBatch(batch.e, batch.s, batch.d, batch.why)
  }

  #onAck(ack: Extract<StreamMessage, { t: 'ra' }>): void {
    if (!this.#addressedToUs(ack)) return
    const stream = this.#out.get(ack.f)
    if (!stream) return
    this.#init.metrics.cluster.acks.received.inc()
    if (ack.n) {
      this.#init.metrics.increment('replication.refused', ack.n.length)
      this.#init.logger.error('a member refused replicated changes (failed its checks)', { member: ack.f, batches: ack.n.length })
    }
    stream.onAck(ack.e, ack.a, ack.q, ack.n)
  }

  #applyBatch(d: Uint8Array, why: 'expired' | undefined): void {
    const decoded = this.#init.codec.decode(d)
    if (!Array.isArray(decoded) || decoded.length > MAX_DELTAS_PER_MESSAGE) throw new MalformedMessageError('batch without deltas')
    this.#init.apply(decoded.map(fromWire), why)
  }

  #renewLeases(): void {
    for (const member of this.#init.membership.members()) this.#inbound(member.id, member.address).requestLease()
  }

  #send(to: Address, message: StreamMessage): void {
    void this.#init.channel.send(to, message)
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return
    this.#flushScheduled = true
    // Every commit of this turn (several requests finishing together) leaves in one batch per member; with
    // flushEarly, every commit of this callback.
    if (this.#init.flushEarly) queueMicrotask(() => this.#flushPending())
    else setImmediate(() => this.#flushPending())
  }

  #flushPending(): void {
    this.#flushScheduled = false
    for (const [key, batch] of this.#pending) {
      this.#pending.delete(key)
      this.#flush(batch)
    }
    // The batches are queued at the transport, which would write them in this turn's check phase: write them now
    // (from the check phase itself, a flush scheduled there would wait for the next turn).
    this.#init.channel.transport.flush?.()
  }

  #flush(batch: PendingBatch): void {
    const streams = batch.targets
      ? batch.targets.flatMap((id) => {
          const stream = this.#out.get(id)
          return stream ? [stream] : []
        })
      : [...this.#out.values()]
    const sent: Array<[OutboundStream, number]> = []
    // With no member to send to (a node alone), nothing is encoded.
    for (const d of streams.length > 0 ? this.#encode(batch.deltas) : []) {
      this.#checkedAt.set(d, batch.removals)
      for (const stream of streams) sent.push([stream, stream.push(d, batch.why)])
    }
    this.#init.metrics.increment('replication.batches')
    // Each member waits for the last of its batches (acks are cumulative).
    const last = new Map<OutboundStream, number>()
    for (const [stream, seq] of sent) last.set(stream, seq)
    const fenceWait = this.#leaseFence - this.#init.clock.monotonic()
    const outcomes = (async () => {
      const result: CommitOutcomes = new Map()
      await Promise.all([...last].map(async ([stream, seq]) => result.set(stream.peerId, await stream.wait(seq))))
      if (fenceWait > 0) await new Promise<void>((resolve) => this.#init.clock.setTimeout(resolve, fenceWait))
      return result
    })()
    for (const resolve of batch.waiters) resolve(outcomes)
  }

  /** A batch to send again, without the changes that no longer matter (see `ResendCheck`). */
  #revise(d: Uint8Array): Uint8Array {
    const check = this.#init.resendCheck
    const removals = check.removals()
    // Nothing stopped being live here since the batch was last checked (or committed): it goes as it is.
    if (this.#checkedAt.get(d) === removals) return d
    const deltas = this.#init.codec.decode(d) as WireDelta[]
    const kept = deltas.filter((wire) => {
      const { id, destroys } = wireDeltaTarget(wire)
      return check.worthResending(id, destroys)
    })
    let revised = d
    if (kept.length < deltas.length) {
      this.#init.metrics.increment('replication.resend-dropped', deltas.length - kept.length)
      // An empty batch still goes: the member acknowledges its number and the stream moves on.
      revised = this.#init.codec.encode(kept)
    }
    this.#checkedAt.set(revised, removals)
    return revised
  }

  /** The batch's deltas as CBOR, cut in parts of at most maxBatchBytes (one delta may exceed it alone). */
  #encode(deltas: WireDelta[]): Uint8Array[] {
    const encoded = this.#init.codec.encode(deltas)
    if (encoded.length <= this.#init.maxBatchBytes || deltas.length === 1) return [encoded]
    const half = Math.ceil(deltas.length / 2)
    return [...this.#encode(deltas.slice(0, half)), ...this.#encode(deltas.slice(half))]
  }
}
