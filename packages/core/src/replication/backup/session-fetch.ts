import type { Channel } from '../../channel/channel.js'
import { MalformedMessageError, StaleReplicaError } from '../../errors.js'
import type { MemberInfo } from '../../membership/membership.js'
import type { Metrics } from '../../metrics.js'
import { type Delta, recordFromWire, type SessionTable, WireStrings, } from '../../session/index.js'
import type { PeerRequestLimits } from '../peer-request-limits.js'
import { answerFetches } from '../strategy-parts.js'
import type { Placed } from './placement.js'

export interface SessionFetchInit {
  channel: Channel
  table: SessionTable
  metrics: Metrics
  requestLimits: PeerRequestLimits
  localId: string
  timeoutMs: number
  /** Owners of a session, primary first, without the members `leftOut`. */
  owners(base: string, route: string | undefined, leftOut?: ReadonlySet<string>): Placed[]
  apply(deltas: Delta[]): void
}

/**
 * Getting a session from the members that hold it, in one round trip: every owner asked at once, concurrent reads
 * begun while a fetch of that session is on its way sharing the next one. Also answers other members' fetches.
 */
export class SessionFetch {
  readonly #init: SessionFetchInit
  /**
   * Fetches in flight, by session, and the one queued behind each. A read joins only a fetch that has not yet left:
   * one that left before the read began may carry an answer older than a write acknowledged since.
   */
  readonly #inFlight = new Map<string, { running: Promise<void>; next?: Promise<void> }>()

  constructor(init: SessionFetchInit) {
    this.#init = init
    const { table } = init
    answerFetches(init.channel, table, init.requestLimits)
  }

  /**
   * Merge session `base` as `from` (its owners) and `ghosts` hold it (joined to a fetch of it in flight). An owner
   * that does not answer (it died a moment ago, and this node has not noticed yet) is replaced by its stand-ins, as
   * writers replace it: what it alone may hold of an acknowledged change, they hold too. A ghost that does not
   * answer fails the read (StaleReplicaError), as do owners none of which answered.
   */
  fromOwners(base: string, route: string | undefined, from: MemberInfo[], ghosts: MemberInfo[]): Promise<void> {
    const entry = this.#inFlight.get(base)
    if (!entry) return this.#start(base, route, from, ghosts)
    entry.next ??= entry.running.then(
      () => this.#start(base, route, from, ghosts),
      () => this.#start(base, route, from, ghosts),
    )
    return entry.next
  }

  #start(base: string, route: string | undefined, from: MemberInfo[], ghosts: MemberInfo[]): Promise<void> {
    this.#init.metrics.increment('replication.read-fetches')
    const entry: { running: Promise<void>; next?: Promise<void> } = {
      running: this.#withStandIns(base, route, from, ghosts).finally(() => {
        if (this.#inFlight.get(base) === entry) this.#inFlight.delete(base)
      }),
    }
    this.#inFlight.set(base, entry)
    return entry.running
  }

  async #withStandIns(base: string, route: string | undefined, from: MemberInfo[], ghosts: MemberInfo[]): Promise<void> {
    const asked = [...from, ...ghosts]
    const results = await Promise.allSettled(asked.map((member) => this.from(member, base)))
    const failed = new Set<string>()
    let error: unknown
    let found = false
    for (const [i, result] of results.entries()) {
      if (result.status === 'fulfilled') {
        found ||= result.value
        continue
      }
      if (i >= from.length) throw result.reason
      failed.add(asked[i]!.id)
      error ??= result.reason
    }
    if (failed.size === 0) return
    // Stand-ins hold what a silent owner alone may hold only if some owner answered: what every owner applied is in
    // that answer. (Which members are reachable is each node's own view: skipping owners up front could ask only
    // members that never held the session.)
    if (failed.size === from.length) throw error
    const { localId } = this.#init
    // This node and the members that answered count as stand-ins already asked: when they are all there are, every
    // copy a writer made without the silent owners has been merged.
    const standIns = this.#init.owners(base, route, failed).filter((m) => m.id !== localId && !asked.some((a) => a.id === m.id)) as MemberInfo[]
    if (standIns.length > 0) {
      this.#init.metrics.increment('backup.read-stand-ins')
      for (const held of await Promise.all(standIns.map((member) => this.from(member, base)))) found ||= held
    }
    // Nobody that answered holds the session, and an owner did not answer: the members that answered may be owners
    // only in this node's view of the members (it may have dropped the real one), so "none" is not an answer.
    if (!found) throw error
  }

  /**
   * Merge `member`'s copy of session `base`; resolves whether it had one. Rejects with StaleReplicaError when it does
   * not answer.
   */
  async from(member: MemberInfo, base: string): Promise<boolean> {
    let reply: unknown
    try {
      reply = await this.#init.channel.request(member.address, { t: 'fetch', ids: [base] }, { timeoutMs: this.#init.timeoutMs })
    } catch (error) {
      this.#init.metrics.increment('replication.read-fetch-failures')
      throw new StaleReplicaError(`cannot fetch session state from member ${member.route}: ${(error as Error).message}`, { cause: error })
    }
    // A peer's answer is checked like any frame from the network: it must be the one session asked for.
    if (typeof reply !== 'object' || reply === null) throw new MalformedMessageError('bad fetch reply: not an object')
    const { t, s, r } = reply as { t?: unknown; s?: unknown; r?: unknown }
    if (t !== 'fetched' || !Array.isArray(r) || r.length > 1) throw new MalformedMessageError('bad fetch reply')
    if (r.length === 0) return false
    const delta = recordFromWire(r[0], new WireStrings(s))
    if (delta.id !== base) throw new MalformedMessageError(`bad fetch reply: session ${delta.id} was not asked for`)
    this.#init.apply([delta])
    return true
  }
}
