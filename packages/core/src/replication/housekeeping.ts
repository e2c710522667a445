import type { Channel } from '../channel/channel.js'
import type { Clock } from '../clock/clock.js'
import type { Logger } from '../logger.js'
import type { Membership } from '../membership/membership.js'
import type { Metrics } from '../metrics.js'
import { isUnsetRegister, type SessionRecord, type SessionTable } from '../session/index.js'
import { chunked, parseAccessPairs, parseIds } from './messages.js'
import type { PeerRequestLimits } from './peer-request-limits.js'

export interface HousekeepingInit {
  channel: Channel
  membership: Membership
  table: SessionTable
  clock: Clock
  metrics: Metrics
  logger: Logger
  /** Whether this node expires session `base`, bound to `route` (the replication strategy decides). */
  expiresHere(route: string, base: string): boolean
  defaultMaxInactiveMs: number
  accessFlushIntervalMs: number
  expiryIntervalMs: number
  tombstoneRetentionMs: number
  /** Tombstones that arrived up to this table position are held by every member (see the strategy). */
  tombstonesConfirmedThrough(): number
  requestTimeoutMs: number
  /** Destroy these sessions as expired (stamped, applied here, replicated). */
  expire: (ids: string[]) => Promise<void>
  /** Budget of the records a peer's expiry checks make us look up. */
  requestLimits?: PeerRequestLimits
}

/**
 * Idle time kept cluster-wide without a message per request:
 * - access times are flushed to peers coalesced, every `accessFlushIntervalMs`;
 * - a session is expired by the node it is bound to (or, when that node is gone, by the member with the
 *   smallest id), only after asking every member for the latest access it saw, so no node expires a
 *   session another node saw used within its max inactive time;
 * - any other node expires an idle session at twice its max inactive time (Tomcat's backstop for a crashed
 *   primary), after the same check.
 */
export class Housekeeping {
  readonly #init: HousekeepingInit
  #timers: Array<{ cancel(): void }> = []
  #sweeping = false
  /** [monotonic time, table `changeSeq`] at each sweep, oldest first: what had arrived here by when (`#arrivedBy`). */
  readonly #positions: Array<[at: number, changeSeq: number]> = []

  constructor(init: HousekeepingInit) {
    this.#init = init
    init.channel.handle('access', (m) => this.#onAccess(parseAccessPairs((m as { a?: unknown }).a)))
    init.channel.handleRequest('expire-check', (m, { from }) => {
      const ids = parseIds((m as { ids?: unknown }).ids)
      init.requestLimits?.admit('records', from, ids.length)
      return {
        t: 'expire-check-reply',
        a: ids.flatMap((id): Array<[string, number]> => {
          const record = init.table.getLive(id)
          return record ? [[id, record.lastAccessedAt]] : []
        }),
      }
    })
  }

  start(): void {
    const { clock, accessFlushIntervalMs, expiryIntervalMs } = this.#init
    this.#timers.push(clock.setInterval(() => void this.flushAccesses(), accessFlushIntervalMs))
    this.#timers.push(clock.setInterval(() => void this.sweep(), expiryIntervalMs))
  }

  stop(): void {
    for (const t of this.#timers.splice(0)) t.cancel()
  }

  /** Send the access times recorded since the last flush (also called on graceful stop). */
  async flushAccesses(): Promise<void> {
    const pairs = this.#init.table.takeDirtyAccesses()
    const members = this.#init.membership.members().map((m) => m.address)
    if (pairs.length === 0 || members.length === 0) return
    this.#init.metrics.increment('replication.access-flushes')
    // Fire and forget: a lost flush only makes the expiring node ask (expire-check) before it expires.
    for (const a of chunked(pairs)) await this.#init.channel.send(members, { t: 'access', a })
  }

  async sweep(): Promise<void> {
    if (this.#sweeping) return
    this.#sweeping = true
    try {
      await this.#sweep()
    } catch (error) {
      this.#init.metrics.increment('expiry.errors')
      this.#init.logger.error('expiry sweep failed', { error })
    } finally {
      this.#sweeping = false
    }
  }

  /** The table's `changeSeq` at the last sweep no later than monotonic time `at` (-1: none was that early). */
  #arrivedBy(at: number): number {
    const positions = this.#positions
    positions.push([this.#init.clock.monotonic(), this.#init.table.changeSeq])
    while (positions.length > 1 && positions[1]![0] <= at) positions.shift()
    const [oldestAt, oldestSeq] = positions[0]!
    return oldestAt <= at ? oldestSeq : -1
  }

  async #sweep(): Promise<void> {
    const { table, clock, tombstoneRetentionMs, accessFlushIntervalMs } = this.#init
    const now = clock.now()
    // A tombstone goes once its destruction is old by the wall clock, has been here that long by the monotonic clock
    // (a wall clock stepped forward would make every tombstone old at once), and every member holds it.
    const heldLongEnough = this.#arrivedBy(clock.monotonic() - tombstoneRetentionMs)
    const purged = table.purgeTombstones(tombstoneRetentionMs, now, Math.min(heldLongEnough, this.#init.tombstonesConfirmedThrough()))
    if (purged > 0) this.#init.metrics.increment('expiry.tombstones-purged', purged)
    // Leave room for an access flush that is still on its way.
    const graceMs = 2 * accessFlushIntervalMs
    const candidates = table.expired(now, graceMs)
    if (candidates.length === 0) return
    // Ours to expire: sessions bound to this node (or orphaned, see #responsibleFor) idle past their limit, and
    // anyone's idle past twice their limit (the backstop for an owner that never did). Either way every member
    // is asked first: no node expires a session another node saw used.
    const due = (record: SessionRecord, at: number) =>
      record.lastAccessedAt + (this.#responsibleFor(record) ? 1 : 2) * this.#maxInactive(record) + graceMs <= at
    const ours = candidates.filter((record) => due(record, now)).map((record) => record.id)
    if (ours.length === 0) return
    const confirmed = await this.#confirmIdle(ours)
    const stillExpired = confirmed.filter((id) => {
      const record = table.getLive(id)
      return record !== undefined && due(record, clock.now())
    })
    if (stillExpired.length > 0) await this.#init.expire(stillExpired)
  }

  /**
   * Bring the access times of these sessions up to date with every member's (a read of a session that looks
   * idle asks before it refuses it); false when some member could not be asked.
   */
  async refreshAccesses(ids: string[]): Promise<boolean> {
    return (await this.#confirmIdle(ids)).length === ids.length
  }

  /** Ask every member for its latest access of these sessions; keep only those every member answered for. */
  async #confirmIdle(ids: string[]): Promise<string[]> {
    const { membership, channel, table, requestTimeoutMs } = this.#init
    const members = membership.members()
    if (members.length === 0) return ids
    // One request per member and batch (a peer refuses id lists longer than a message allows).
    const replies = await Promise.allSettled(
      members.flatMap((m) =>
        chunked(ids).map((batch) => channel.request(m.address, { t: 'expire-check', ids: batch }, { timeoutMs: requestTimeoutMs })),
      ),
    )
    if (replies.some((r) => r.status === 'rejected')) {
      // A member we could not ask may have seen the session used: try again next sweep.
      this.#init.metrics.increment('expiry.deferred')
      return []
    }
    for (const reply of replies) {
      if (reply.status !== 'fulfilled') continue
      for (const [id, at] of parseAccessPairs((reply.value as { a?: unknown }).a)) {
        if (table.getLive(id)) table.apply({ id, lastAccessedAt: at })
      }
    }
    return ids
  }

  #onAccess(pairs: Array<[string, number]>): void {
    const { table, metrics } = this.#init
    for (const [id, at] of pairs) {
      // An access for a session we do not hold must not create an empty record.
      if (table.getLive(id)) table.apply({ id, lastAccessedAt: at })
      else metrics.increment('replication.access-unknown')
    }
  }

  #responsibleFor(record: SessionRecord): boolean {
    return this.#init.expiresHere(record.route.value, record.id)
  }

  #maxInactive(record: SessionRecord): number {
    return isUnsetRegister(record.maxInactiveMs) ? this.#init.defaultMaxInactiveMs : record.maxInactiveMs.value
  }
}
