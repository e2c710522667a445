import type { Channel } from '../../channel/channel.js'
import type { Clock, TimerHandle } from '../../clock/clock.js'
import type { Logger } from '../../logger.js'
import { type Address, addressKey } from '../../member.js'
import type { MemberInfo, Membership } from '../../membership/membership.js'
import type { Metrics } from '../../metrics.js'
import {
  type Delta,
  recordFromWire,
  recordToWire,
  type SessionRecord,
  type SessionTable,
  type WireRecord,
  WireStrings,
  WireStringTable,
} from '../../session/index.js'
import type { PeerRequestLimits } from '../peer-request-limits.js'
import { estimateRecordBytes } from '../state-transfer.js'
import { MAX_AE_ITEMS, parseDigestRequest, parseGone, parseKeys, parseRepair, parseRepaired } from './messages.js'

export interface AntiEntropyInit {
  channel: Channel
  membership: Membership
  table: SessionTable
  clock: Clock
  metrics: Metrics
  logger: Logger
  /** How often a round runs with the next member (round-robin). */
  intervalMs: number
  requestTimeoutMs: number
  /** Records per repair message, in bytes (like a state-transfer chunk). */
  chunkBytes: number
  /** Tombstones are purged after this: a member out of touch for longer may hold sessions we destroyed and forgot. */
  tombstoneRetentionMs: number
  /** Clocks of members may differ this much (record creation times are compared across nodes). */
  maxClockSkewMs: number
  /** Merge a member's records (full records as deltas) with the normal merge. */
  apply(deltas: Delta[]): void
  /** Destroy these sessions here (stamped and replicated like a logout). */
  destroy(ids: string[]): Promise<void>
  /** A round completed while the member replicated to us: our copy of its writes may be trusted again. */
  onSynced(member: MemberInfo, from: Address): void
  /** Budgets of the work a peer's requests make us do: a digest (`anti-entropy`), the records listed or repaired (`records`). */
  requestLimits?: PeerRequestLimits
}

/** Wanted ids per repair request: their records come back in one reply. */
const WANTED_PER_REQUEST = 256
/** Members whose last time in step with us is remembered (they may come back after a partition). */
const MAX_REMEMBERED = 1_024
/**
 * How long a member that stopped answering (it may be on the other side of a partition) keeps our tombstones from
 * being purged: a logout stays final across any partition shorter than this. Past it, only the creation-time
 * guard below stands between its copies and a comeback.
 */
export const ABSENT_MEMBER_MEMORY_MS = 24 * 60 * 60 * 1000

/**
 * Anti-entropy (a lost frame never leaves a replica behind for good): members compare per-bucket
 * digests of their session tables and exchange the records that differ, both ways, through the normal merge.
 * Runs with one member every `intervalMs`, with every member when it joins or rejoins, and whenever a
 * replication stream broke or refused data. A round with identical tables costs one 8 KiB request.
 *
 * Destruction stays final after any partition: tombstones are purged after `tombstoneRetentionMs`, so a
 * member that has not been in step with us for longer may hold sessions that were destroyed here and
 * forgotten since. From such a member, a record we lack that was created before we were last in step is not
 * adopted: it existed then, so it was destroyed here, and the member is told to destroy it too.
 */
export class AntiEntropy {
  readonly #init: AntiEntropyInit
  readonly #rounds = new Map<string, Promise<boolean>>()
  /** Member incarnation → wall time it was last known to hold every write of ours. */
  readonly #inStepAt = new Map<string, number>()
  /** Member incarnation → our table's `changeSeq` when a completed round last compared it with theirs. */
  readonly #inStepSeq = new Map<string, number>()
  /** Our table's `changeSeq` when each member last sent us its digests (the round it completes with `last`). */
  readonly #digestSeq = new Map<string, number>()
  /** Members that stopped answering: since when (monotonic), and where (a new process there replaces them). */
  readonly #absent = new Map<string, { since: number; address: string }>()
  #timer: TimerHandle | undefined
  #next = 0

  constructor(init: AntiEntropyInit) {
    this.#init = init
    const { channel } = init
    channel.handleRequest('ae', (m, { from }) => {
      const request = parseDigestRequest(m)
      init.requestLimits?.admit('anti-entropy', from)
      const reply = this.#onDigest(request, from)
      // The keys listed are work found out while answering: paid afterwards.
      init.requestLimits?.charge('records', from, reply.k.length)
      return reply
    })
    channel.handleRequest('ae-repair', (m, { from }) => {
      const request = parseRepair(m)
      init.requestLimits?.admit('records', from, request.r.length + request.w.length)
      return this.#onRepair(request, (m as { m?: unknown }).m === true, from)
    })
    channel.handle('ae-gone', (m) => this.#init.destroy(parseGone(m)))
  }

  start(): void {
    this.#timer ??= this.#init.clock.setInterval(() => this.#periodic(), this.#init.intervalMs)
  }

  stop(): void {
    this.#timer?.cancel()
    this.#timer = undefined
  }

  /** A round with the member completed: it held every record of ours at this moment. */
  #noteInStep(memberId: string, seq: number): void {
    this.#inStepAt.delete(memberId)
    this.#inStepAt.set(memberId, this.#init.clock.now())
    if (this.#inStepAt.size > MAX_REMEMBERED) this.#inStepAt.delete(this.#inStepAt.keys().next().value!)
    this.#inStepSeq.set(memberId, Math.max(seq, this.#inStepSeq.get(memberId) ?? 0))
  }

  /**
   * Our tombstones that arrived at or before this `changeSeq` are held by every member, present or absent (one
   * that never completed a round with us holds none for sure): only those may be purged.
   */
  confirmedThrough(): number {
    const now = this.#init.clock.monotonic()
    for (const [id, { since }] of this.#absent) {
      if (now - since > ABSENT_MEMBER_MEMORY_MS) this.#forget(id)
    }
    let through = Number.POSITIVE_INFINITY
    for (const m of this.#init.membership.members()) through = Math.min(through, this.#inStepSeq.get(m.id) ?? 0)
    for (const id of this.#absent.keys()) through = Math.min(through, this.#inStepSeq.get(id) ?? 0)
    return through
  }

  /** A member left the membership: `failed` (silent; maybe partitioned away) is remembered, any other reason is final. */
  memberLeft(member: MemberInfo, stillAround: boolean): void {
    const memberId = member.id
    if (!stillAround) {
      this.#forget(memberId)
      return
    }
    this.#absent.set(memberId, { since: this.#init.clock.monotonic(), address: addressKey(member.address) })
    if (this.#absent.size > MAX_REMEMBERED) this.#forget(this.#absent.keys().next().value!)
  }

  /**
   * A member joined: the same incarnation readmitted counts as a member again; a new process at an absent one's
   * address means that one is gone for good (its memory went with it).
   */
  memberBack(member: MemberInfo): void {
    const address = addressKey(member.address)
    for (const [id, absent] of this.#absent) if (id !== member.id && absent.address === address) this.#forget(id)
    const memberId = member.id
    this.#absent.delete(memberId)
  }

  #forget(memberId: string): void {
    this.#absent.delete(memberId)
    this.#inStepSeq.delete(memberId)
    this.#digestSeq.delete(memberId)
  }

  /** One round with `member` (joined to a round already running with it). Resolves whether it completed. */
  sync(member: MemberInfo): Promise<boolean> {
    let round = this.#rounds.get(member.id)
    if (!round) {
      round = this.#round(member)
        .catch((error) => {
          this.#init.metrics.increment('anti-entropy.failures')
          this.#init.logger.debug('anti-entropy round failed', { route: member.route, error: (error as Error).message })
          return false
        })
        .finally(() => this.#rounds.delete(member.id))
      this.#rounds.set(member.id, round)
    }
    return round
  }

  #periodic(): void {
    // A member still pulling state would be pushed what its transfer brings anyway.
    const members = this.#init.membership.members().filter((m) => m.state === 'alive' && m.ready)
    if (members.length === 0) return
    void this.sync(members[this.#next++ % members.length]!)
  }

  async #round(member: MemberInfo): Promise<boolean> {
    const { channel, table, requestTimeoutMs, metrics } = this.#init
    metrics.increment('anti-entropy.rounds')
    const ask = (message: Parameters<Channel['request']>[1]) => channel.request(member.address, message, { timeoutMs: requestTimeoutMs })
    const knowsPeer = this.#init.membership.member(member.id) !== undefined
    const comparedAt = table.changeSeq
    const keys = parseKeys(await ask({ t: 'ae', h: table.digests.encode(), m: knowsPeer }))
    const theirs = new Map(keys.k.map(([id, a, b]) => [id, [a, b] as const]))
    const push: SessionRecord[] = []
    for (const record of table.recordsIn(new Set(keys.b))) {
      const their = theirs.get(record.id)
      const mine = table.digestOf(record.id)
      if (!their || !mine || their[0] !== mine[0] || their[1] !== mine[1]) push.push(record)
    }
    const want = [...theirs].filter(([id, their]) => {
      const mine = table.digestOf(id)
      return !mine || mine[0] !== their[0] || mine[1] !== their[1]
    })
    const wanted = want.map(([id]) => id)
    if (push.length > 0 || wanted.length > 0) {
      metrics.increment('anti-entropy.repairs', push.length + wanted.length)
      metrics.cluster.antiEntropyRepairs.inc(push.length + wanted.length)
    }
    const guard = this.#guardFor(member.id)
    const goneThere: string[] = []
    let p = 0
    let w = 0
    do {
      const strings = new WireStringTable()
      const records: WireRecord[] = []
      let bytes = 0
      while (p < push.length && records.length < MAX_AE_ITEMS && (records.length === 0 || bytes < this.#init.chunkBytes)) {
        const record = push[p++]!
        bytes += estimateRecordBytes(record)
        records.push(recordToWire(record, strings))
      }
      const ids = wanted.slice(w, (w += WANTED_PER_REQUEST))
      const last = p >= push.length && w >= wanted.length
      const reply = parseRepaired(await ask({ t: 'ae-repair', s: strings.list, r: records, w: ids, last, m: knowsPeer, n: this.#init.clock.now() }))
      goneThere.push(...this.#merge(reply.r, reply.s, guard, reply.n))
      if (reply.gone.length > 0) await this.#init.destroy(reply.gone)
    } while (p < push.length || w < wanted.length)
    if (goneThere.length > 0) await channel.send(member.address, { t: 'ae-gone', ids: goneThere.slice(0, MAX_AE_ITEMS) })
    metrics.increment('anti-entropy.completed')
    this.#noteInStep(member.id, comparedAt)
    if (keys.m) this.#init.onSynced(member, member.address)
    return true
  }

  #onDigest(request: { h: Uint8Array; m: boolean }, from: Address) {
    const { table, metrics } = this.#init
    const differing = table.digests.differing(request.h)
    if (!differing) throw new Error('anti-entropy digest of the wrong size')
    metrics.increment('anti-entropy.served')
    const member = this.#memberAt(from)
    const k: Array<[string, number, number]> = []
    let truncated = false
    for (const record of table.recordsIn(new Set(differing))) {
      if (k.length >= MAX_AE_ITEMS) {
        truncated = true
        break
      }
      const digest = table.digestOf(record.id)
      if (digest) k.push([record.id, digest[0], digest[1]])
    }
    // Once this round completes the requester holds what we held now, unless it could not ask for all of it.
    if (member && !truncated) this.#digestSeq.set(member.id, table.changeSeq)
    else if (member) this.#digestSeq.delete(member.id)
    // Nothing differs: we hold everything the requester held when it described its table, and the other way round.
    if (differing.length === 0 && member) this.#noteInStep(member.id, table.changeSeq)
    if (differing.length === 0 && request.m && member) this.#init.onSynced(member, from)
    return { t: 'ae-keys', m: member !== undefined, b: differing, k }
  }

  #onRepair(request: { s: unknown; r: unknown[]; w: string[]; last: boolean; n: number | undefined }, peerKnowsUs: boolean, from: Address) {
    const { table } = this.#init
    const member = this.#memberAt(from)
    const gone = this.#merge(request.r, request.s, member ? this.#guardFor(member.id) : undefined, request.n)
    const strings = new WireStringTable()
    const r: WireRecord[] = []
    for (const id of request.w) {
      const record = table.get(id)
      if (record) r.push(recordToWire(record, strings))
    }
    // In step only if this answer carries nothing the requester still lacks: were it lost, the requester would
    // still miss records (a tombstone, say) we would then count as held there.
    if (request.last && member && request.w.length === 0 && gone.length === 0) this.#noteInStep(member.id, this.#digestSeq.get(member.id) ?? 0)
    if (request.last && peerKnowsUs && member) this.#init.onSynced(member, from)
    return { t: 'ae-repaired', s: strings.list, r, gone, n: this.#init.clock.now() }
  }

  /** Merge a member's records (sent when its wall clock read `sentAt`); returns the ids it should destroy (see the class comment). */
  #merge(records: unknown[], strings: unknown, guardBefore: number | undefined, sentAt: number | undefined): string[] {
    if (records.length === 0) return []
    const table = new WireStrings(strings)
    const gone: string[] = []
    const deltas: Delta[] = []
    // Old by the sender's clock too: ours may run ahead (stepped), and would make a fresh tombstone look purged here.
    const now = this.#init.clock.now()
    const purgeableBefore = Math.min(now, sentAt ?? now) - this.#init.tombstoneRetentionMs
    for (const wire of records) {
      const delta = recordFromWire(wire, table)
      // A tombstone older than the retention for a session we hold no record of: we purged it (every member was
      // confirmed to hold it) or never had the session. Taking it back would restart its confirmation, and nodes
      // purging at different times would hand it round forever.
      if (delta.destroyed && delta.destroyed[0] <= purgeableBefore && !this.#init.table.get(delta.id)) continue
      if (guardBefore !== undefined && !delta.destroyed && !this.#init.table.get(delta.id) && (delta.createdAt ?? 0) < guardBefore) {
        this.#init.metrics.increment('anti-entropy.resurrections-refused')
        gone.push(delta.id)
        continue
      }
      deltas.push(delta)
    }
    if (deltas.length > 0) this.#init.apply(deltas)
    return gone
  }

  /** For a member out of step with us for longer than tombstones live: records created before then are not adopted. */
  #guardFor(memberId: string): number | undefined {
    const inStep = this.#inStepAt.get(memberId)
    if (inStep === undefined) return undefined
    const { clock, tombstoneRetentionMs, maxClockSkewMs } = this.#init
    if (clock.now() - inStep < tombstoneRetentionMs - maxClockSkewMs) return undefined
    return inStep - maxClockSkewMs
  }

  #memberAt(from: Address): MemberInfo | undefined {
    const key = addressKey(from)
    return this.#init.membership.members().find((m) => addressKey(m.address) === key)
  }
}
