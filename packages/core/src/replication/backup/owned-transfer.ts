import type { Channel } from '../../channel/channel.js'
import type { Clock } from '../../clock/clock.js'
import { MalformedMessageError } from '../../errors.js'
import { type Address, addressKey } from '../../member.js'
import type { MemberInfo, Membership } from '../../membership/membership.js'
import type { Metrics } from '../../metrics.js'
import { type Delta, recordFromWire, recordToWire, type SessionTable, type WireRecord, WireStrings, WireStringTable } from '../../session/index.js'
import { MAX_DELTAS_PER_MESSAGE } from '../messages.js'
import type { PeerRequestLimits } from '../peer-request-limits.js'
import { estimateRecordBytes } from '../state-transfer.js'

export interface OwnedTransferInit {
  channel: Channel
  membership: Membership
  table: SessionTable
  clock: Clock
  metrics: Metrics
  /** Bytes of records per reply (a state-transfer chunk). */
  chunkBytes: number
  requestTimeoutMs: number
  requestLimits: PeerRequestLimits
  /** Ids of the records this node holds that `member` owns (live and destroyed). */
  ownedBy(member: MemberInfo): string[]
  /** Merge records pulled from a member. */
  apply(deltas: Delta[]): void
  /** `member` was sent the last chunk of a pull it began as a member: it holds what it owned here, and every tombstone. */
  servedTo?(member: MemberInfo): void
}

/** Records per reply, at most, whatever their size. */
const MAX_RECORDS_PER_CHUNK = 2_000
/** A pull nobody continued for this long is forgotten by the member serving it. */
const IDLE_MS = 60_000

/** A pull's request: transfer id, cursor, and the puller's incarnation id (older nodes send none: matched by address). */
interface PullRequest {
  x?: unknown
  c?: unknown
  f?: unknown
}

interface Serving {
  transfer: string
  ids: string[]
  /** The puller was a member when the ids were listed: what it owns and we commit since goes to it over its stream. */
  knew: MemberInfo | undefined
  touchedAt: number
}

/**
 * How sessions reach the members that own them (primary/backup): a member pulls, from each other member, the records
 * that member holds and it owns, in chunks of about `chunkBytes`, while live commits keep flowing. It pulls when it
 * starts, when a member left (placement moved sessions to it: back to `backups + 1` copies), and whenever its stream
 * from a member broke. The member serving a pull snapshots the ids once (a string each) and encodes each chunk's
 * records as they are when asked; it serves one pull per peer, and a newer one replaces the older.
 *
 * A pull that ends with the serving member knowing the puller (`m`) completes that member's hand-off: everything it
 * committed since went to the puller over its stream (it knew the puller), and everything before is in the chunks.
 */
export class OwnedTransfer {
  readonly #init: OwnedTransferInit
  readonly #serving = new Map<string, Serving>()
  /** Pulls in flight, by member, with when each began. */
  readonly #pulls = new Map<string, { startedAt: number; done: Promise<boolean> }>()
  #records = 0
  #completed = 0

  constructor(init: OwnedTransferInit) {
    this.#init = init
    init.channel.handleRequest('bk-pull', (m, { from }) => this.#serve(m as PullRequest, from))
    init.channel.handleRequest('bk-push', (m, { from }) => {
      const { s, r } = m as { s?: unknown; r?: unknown }
      if (!Array.isArray(r) || r.length > MAX_RECORDS_PER_CHUNK) throw new MalformedMessageError('bad owned-records push')
      init.requestLimits.admit('records', from, r.length)
      const strings = new WireStrings(s)
      const deltas = r.map((wire) => recordFromWire(wire, strings))
      if (deltas.length > 0) init.apply(deltas)
      return { t: 'bk-pushed', n: deltas.length }
    })
  }

  /**
   * Hand whole records to `member` (an owner of them), in chunks; resolves once it applied every one, rejects when it
   * could not be asked. A copy this node lets go of leaves only this way: the owner's answer is the proof it holds it.
   */
  async push(member: MemberInfo, deltas: readonly Delta[]): Promise<void> {
    const { channel, requestTimeoutMs, table } = this.#init
    let i = 0
    while (i < deltas.length) {
      const strings = new WireStringTable()
      const r: WireRecord[] = []
      let bytes = 0
      while (i < deltas.length && r.length < MAX_RECORDS_PER_CHUNK && (r.length === 0 || bytes < this.#init.chunkBytes)) {
        const record = table.get(deltas[i++]!.id)
        if (!record) continue
        bytes += estimateRecordBytes(record)
        r.push(recordToWire(record, strings))
      }
      if (r.length === 0) continue
      const reply = (await channel.request(member.address, { t: 'bk-push', s: strings.list, r }, { timeoutMs: requestTimeoutMs })) as { t?: unknown }
      if (reply.t !== 'bk-pushed') throw new MalformedMessageError('bad owned-records push reply')
    }
  }

  /** Pulls in flight, records pulled and pulls completed since start (status). */
  describe(): { pulling: number; recordsPulled: number; pullsCompleted: number; serving: number } {
    return { pulling: this.#pulls.size, recordsPulled: this.#records, pullsCompleted: this.#completed, serving: this.#serving.size }
  }

  /**
   * Pull what `member` holds that this node owns, joined to a pull from it in flight that began after `startedAfter`
   * (monotonic ms), or else begun once that one is done: an older pull may have read the member before changes the
   * caller needs. Resolves whether it completed with the member knowing this node (its hand-off is then complete);
   * rejects when the member could not be asked.
   */
  pull(member: MemberInfo, startedAfter = Number.NEGATIVE_INFINITY): Promise<boolean> {
    const current = this.#pulls.get(member.id)
    if (current && current.startedAt > startedAfter) return current.done
    if (current) {
      const again = () => this.pull(member, startedAfter)
      return current.done.then(again, again)
    }
    const entry = {
      startedAt: this.#init.clock.monotonic(),
      done: this.#pull(member).finally(() => {
        if (this.#pulls.get(member.id) === entry) this.#pulls.delete(member.id)
      }),
    }
    this.#pulls.set(member.id, entry)
    return entry.done
  }

  async #pull(member: MemberInfo): Promise<boolean> {
    const { channel, requestTimeoutMs, metrics } = this.#init
    const transfer = Math.random().toString(36).slice(2, 12)
    let cursor = 0
    let knowsUs = false
    metrics.increment('backup.pulls')
    do {
      const pullRequest = { t: 'bk-pull', x: transfer, c: cursor, f: this.#init.membership.local.id }
      const reply = (await channel.request(member.address, pullRequest, { timeoutMs: requestTimeoutMs })) as {
        t?: unknown
        s?: unknown
        r?: unknown
        n?: unknown
        m?: unknown
      }
      if (reply.t !== 'bk-chunk' || !Array.isArray(reply.r) || reply.r.length > MAX_RECORDS_PER_CHUNK || typeof reply.n !== 'number') {
        throw new MalformedMessageError('bad owned-records chunk')
      }
      const strings = new WireStrings(reply.s)
      const deltas = reply.r.map((wire) => recordFromWire(wire, strings))
      if (deltas.length > 0) this.#init.apply(deltas)
      this.#records += deltas.length
      metrics.increment('backup.records-pulled', deltas.length)
      knowsUs = reply.m === true
      if (reply.n !== -1 && (!Number.isSafeInteger(reply.n) || reply.n <= cursor)) throw new MalformedMessageError('owned-records cursor went back')
      cursor = reply.n
    } while (cursor !== -1)
    this.#completed++
    return knowsUs
  }

  #serve(m: PullRequest, from: Address) {
    const { table, requestLimits, clock } = this.#init
    if (typeof m.x !== 'string' || m.x.length > 32 || typeof m.c !== 'number' || !Number.isSafeInteger(m.c) || m.c < 0) {
      throw new MalformedMessageError('bad owned-records request')
    }
    if (m.f !== undefined && (typeof m.f !== 'string' || m.f.length > 64)) throw new MalformedMessageError('bad owned-records request')
    const now = clock.monotonic()
    for (const [peer, s] of this.#serving) if (now - s.touchedAt > IDLE_MS) this.#serving.delete(peer)
    const peer = addressKey(from)
    // The puller by its incarnation, not its address: a process restarted at once at the same address pulls while
    // its old process may still be listed here (suspect, owning nothing), and a hand-off to the old one is none.
    // A puller this node has not heard from yet gets nothing and no "knew you", and asks again.
    const member = this.#init.membership
      .members()
      .find((candidate) => (m.f === undefined ? addressKey(candidate.address) === peer : candidate.id === m.f))
    let serving = this.#serving.get(peer)
    if (m.c === 0 || !serving || serving.transfer !== m.x) {
      if (m.c !== 0) throw new MalformedMessageError('unknown owned-records pull: start again from cursor 0')
      requestLimits.admit('anti-entropy', from)
      serving = { transfer: m.x, ids: member ? this.#init.ownedBy(member) : [], knew: member, touchedAt: now }
      this.#serving.set(peer, serving)
    }
    serving.touchedAt = now
    const strings = new WireStringTable()
    const r: WireRecord[] = []
    let bytes = 0
    let i = m.c
    while (i < serving.ids.length && r.length < MAX_RECORDS_PER_CHUNK && r.length < MAX_DELTAS_PER_MESSAGE && (r.length === 0 || bytes < this.#init.chunkBytes)) {
      const record = table.get(serving.ids[i++]!)
      if (!record) continue
      bytes += estimateRecordBytes(record)
      r.push(recordToWire(record, strings))
    }
    requestLimits.charge('records', from, r.length)
    const done = i >= serving.ids.length
    if (done) {
      this.#serving.delete(peer)
      if (serving.knew) this.#init.servedTo?.(serving.knew)
    }
    return { t: 'bk-chunk', s: strings.list, r, n: done ? -1 : i, m: serving.knew !== undefined }
  }
}
