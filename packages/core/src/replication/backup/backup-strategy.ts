import type { TimerHandle } from '../../clock/clock.js'
import { StaleReplicaError } from '../../errors.js'
import { addressKey } from '../../member.js'
import type { LeaveReason, MemberInfo } from '../../membership/membership.js'
import { type Delta, isPartialCopy, recordToDelta } from '../../session/index.js'
import type { AllToAllInit } from '../all-to-all/all-to-all-strategy.js'
import { ABSENT_MEMBER_MEMORY_MS } from '../anti-entropy/anti-entropy.js'
import type { StateTransferOutcome } from '../state-transfer.js'
import type { ReplicationStrategy } from '../strategy.js'
import type { ReplicationStreams } from '../stream/replication-streams.js'
import { replicationStreamsFor } from '../strategy-parts.js'
import { OwnedTransfer } from './owned-transfer.js'
import { OwnerWrites } from './owner-writes.js'
import { ownersOf, type Placed } from './placement.js'
import { Relocation } from './relocation.js'
import { SessionFetch } from './session-fetch.js'

export interface BackupInit extends AllToAllInit {
  /** Copies of each session besides the primary's. */
  backups: number
}

/**
 * Primary/backup replication (Tomcat's BackupManager, without its gaps): each session lives on its owners (see
 * placement.ts: the node its route names, plus `backups` others by rendezvous hashing over the members), and a
 * commit goes to them only, over the same per-member streams as all-to-all (owner-writes.ts). The primary serves
 * its sessions from memory while it holds a read lease on every member's writes (every writer sends it every change
 * of its sessions); any other node fetches the session from its owners before serving it (one round trip, coalesced
 * per session; session-fetch.ts), so no read misses an acknowledged write. When members come and go, each node
 * pulls from every member what it now owns (owned-transfer.ts), and lets go of what it no longer owns once its owners
 * hold it (relocation.ts).
 */
export class BackupStrategy implements ReplicationStrategy {
  readonly name = 'backup' as const
  readonly holdsEverySession = false
  readonly #init: BackupInit
  readonly #streams: ReplicationStreams
  readonly #transfer: OwnedTransfer
  readonly #relocation: Relocation
  readonly #fetch: SessionFetch
  readonly #writes: OwnerWrites
  /**
   * Members to pull from again before local reads are trusted (a member left: placement moved sessions here), each
   * with when that was last asked for: only a pull begun later answers it.
   */
  readonly #catchUp = new Map<string, number>()
  /** Members failure detection gave up on (they may still run behind a broken link): reads ask them too until then. */
  readonly #ghosts = new Map<string, { member: MemberInfo; until: number }>()
  #timer: TimerHandle | undefined
  #transferred = false
  /** The table's changeSeq when every member last held everything we sent (tombstones up to it may be purged). */
  #confirmedSeq = 0
  /**
   * Members that went silent or refused (maybe partitioned away, still running with copies of sessions destroyed
   * meanwhile), as all-to-all's anti-entropy remembers them: no tombstone is confirmed until each is back and pulled
   * from this node (which hands it every tombstone), or a new process took its address, or a day went by.
   */
  readonly #absent = new Map<string, { since: number; address: string; reason: LeaveReason }>()
  #unsubscribe: Array<() => void> = []

  constructor(init: BackupInit) {
    this.#init = init
    const { channel, membership, clock, metrics, table } = init
    this.#streams = replicationStreamsFor(init, (member, _inSync, reason) => this.#memberGone(member, reason))
    this.#transfer = new OwnedTransfer({
      channel,
      membership,
      table,
      clock,
      metrics,
      chunkBytes: init.stateTransferChunkBytes,
      requestTimeoutMs: Math.max(init.ackTimeoutMs, 5_000),
      requestLimits: init.requestLimits,
      // Every tombstone goes too, owned or not: a member that missed a destruction (it was cut off, or readmitted
      // after a removal) may hold a copy of the session, which must end there as well.
      ownedBy: (member) => {
        const ids: string[] = []
        for (const record of table.records()) if (record.destroyed || this.#owners(record.id).some((m) => m.id === member.id)) ids.push(record.id)
        return ids
      },
      apply: (deltas) => init.apply(deltas, undefined),
      servedTo: (member) => this.#absent.delete(member.id),
    })
    this.#relocation = new Relocation({
      table,
      clock,
      metrics,
      localId: membership.local.id,
      // A node hears of a membership change up to a failure-detection period after another: a copy is kept that
      // long after its last use here, so a pull from this node still finds the writes it made meanwhile.
      keepMs: init.ghostMs,
      owners: (id) => this.#owners(id),
      push: async (deltas, targets) => {
        const owners = targets.map((id) => membership.member(id))
        if (owners.some((m) => m === undefined)) throw new Error('an owner is no member any more')
        await Promise.all(owners.map((m) => this.#transfer.push(m!, deltas)))
      },
    })
    this.#writes = new OwnerWrites({
      streams: this.#streams,
      table,
      metrics,
      localId: membership.local.id,
      mode: init.mode,
      owners: (base, route, leftOut) => this.#owners(base, route, leftOut),
      liveGhosts: () => this.#liveGhosts(),
    })
    this.#fetch = new SessionFetch({
      channel,
      table,
      metrics,
      requestLimits: init.requestLimits,
      localId: membership.local.id,
      timeoutMs: Math.max(init.leaseMs, 1_000),
      owners: (base, route, leftOut) => this.#owners(base, route, leftOut),
      apply: (deltas) => {
        const fetched = deltas.map((d) => this.#relocation.fetching(d.id))
        init.apply(deltas, undefined)
        for (const done of fetched) done()
      },
    })
  }

  async start(signal: AbortSignal): Promise<StateTransferOutcome> {
    const { membership, clock, leaseMs, stateTransferTimeoutMs } = this.#init
    this.#streams.start()
    this.#unsubscribe.push(
      membership.on('join', (m) => {
        this.#relocation.placementChanged()
        // Readmitted after it was removed (failure detection gave up on it, or its port refused): it may have run
        // all along and committed to the other owners (and stand-ins) under its own view, where this node was a
        // member it could not reach (a one-way cut). So may a process that was removed as failed and has died
        // since, now replaced by a new one (one removed because its port refused was dead already: the pulls at
        // its removal saw all it did). This node's copies are not trusted until it pulled again from every member
        // what it owns; the pulls at the removal came too early.
        let wroteUnseen = this.#absent.has(m.id)
        // A new process where an absent member was: that one's memory (and its copies) went with it.
        const address = addressKey(m.address)
        for (const [id, absent] of this.#absent) {
          if (id === m.id || absent.address !== address) continue
          this.#absent.delete(id)
          wroteUnseen ||= absent.reason === 'failed'
        }
        if (wroteUnseen) this.#catchUpWithEveryMember()
        // What it acknowledged alone reaches the sessions' owners by its own hand-off, which this node does not see
        // complete: reads here ask it too for a while, as they ask a ghost, or they could miss it meanwhile.
        if (wroteUnseen && this.#init.mode === 'sync') this.#ghosts.set(m.id, { member: m, until: clock.monotonic() + this.#init.ghostMs })
        else this.#ghosts.delete(m.id)
      }),
      membership.on('leave', (m, reason) => {
        this.#relocation.placementChanged()
        if (reason === 'failed' || reason === 'gone') this.#absent.set(m.id, { since: clock.monotonic(), address: addressKey(m.address), reason })
        else this.#absent.delete(m.id)
      }),
      membership.on('stray', (m) => {
        if (this.#init.mode === 'sync') this.#ghosts.set(m.id, { member: m, until: clock.monotonic() + this.#init.ghostMs })
      }),
    )
    this.#timer = clock.setInterval(() => this.#maintain(), Math.max(1, Math.floor(leaseMs / 2)))
    const deadline = clock.monotonic() + stateTransferTimeoutMs
    const poll = Math.min(100, this.#init.heartbeatIntervalMs)
    // Hear from every configured member first (see pullState): deciding "alone" earlier would serve empty sessions.
    while (membership.pendingSeeds() > 0 && clock.monotonic() < deadline && !signal.aborted) await this.#sleep(poll)
    if (membership.members().length === 0) return this.#started(signal, 'alone')
    // Pull from every member what this node owns, until each has handed off (it knew us when it listed them).
    const pending = new Set(membership.members().map((m) => m.id))
    while (pending.size > 0 && clock.monotonic() < deadline && !signal.aborted) {
      await Promise.all(
        [...pending].map(async (id) => {
          const member = membership.member(id)
          if (!member) return void pending.delete(id)
          if (await this.#pullFrom(member).catch(() => false)) pending.delete(id)
        }),
      )
      if (pending.size > 0) await this.#sleep(poll)
    }
    return this.#started(signal, pending.size === 0 ? 'complete' : 'timed-out')
  }

  #started(signal: AbortSignal, outcome: StateTransferOutcome): StateTransferOutcome {
    if (outcome === 'timed-out' && !signal.aborted) this.#init.logger.error('backup: did not pull every owned session in time; pulling on in the background')
    if (!signal.aborted) this.#transferred = true
    return outcome
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.#init.clock.setTimeout(resolve, ms))
  }

  async stop(): Promise<void> {
    this.#timer?.cancel()
    for (const off of this.#unsubscribe.splice(0)) off()
    // Leaving: what only this node holds goes to its owners first (bounded in time), as a rolling restart needs.
    if (this.#transferred) await this.#relocation.handOffAll(Math.min(2_000, 2 * this.#init.ackTimeoutMs))
    this.#streams.stop()
  }

  commit(deltas: Delta[], why?: 'expired'): Promise<void> {
    return this.#writes.commit(deltas, why)
  }

  beforeRead(base: string, route?: string): Promise<void> | undefined {
    const { membership, table, mode } = this.#init
    const record = table.get(base)
    const primary = record !== undefined && record.route.value === membership.local.route
    if (primary && (mode !== 'sync' || this.#trusted())) return undefined
    const selfId = membership.local.id
    let from = this.#owners(base, route).filter((m) => m.id !== selfId) as MemberInfo[]
    // A session whose route names no member, held nowhere here: it was rebound after its route's node went, and
    // placement by that route no longer finds it. Every member is asked (one round trip still), but a suspect: a
    // member that does not answer would fail the read. A route whose node is only suspect still names a member:
    // placement finds the session's owners as writers do (a suspect owner that does not answer is replaced by its
    // stand-ins), and it is this node that may be cut off, with every other member suspect to it but a newcomer
    // that holds nothing.
    if (!record && route && route !== membership.local.route && !membership.members().some((m) => m.route === route)) {
      const alive = membership.members().filter((m) => m.state === 'alive')
      from = alive.length > 0 ? alive : membership.members()
    }
    const ghosts = mode === 'sync' ? this.#liveGhosts() : []
    if (from.length === 0 && ghosts.length === 0) {
      // Nobody to ask, no whole copy here, and the session is another node's: with members that failed (not said
      // goodbye) this node may be the one cut off, and they hold it. Answering "no such session" would hand the user
      // a new, empty one and overwrite the cookie, and a copy made only of changes that reached this node (a writer
      // took it for an owner before it pulled the session) would lose the rest; a refusal (503) lets the balancer try
      // another node. A session known here to be destroyed or expired has a tombstone, and is not refused.
      const whole = record !== undefined && !isPartialCopy(record)
      if (!whole && mode === 'sync' && route && route !== membership.local.route && this.#absent.size > 0) {
        this.#init.metrics.increment('backup.read-unreachable')
        return Promise.reject(new StaleReplicaError(`no owner of the session is reachable (${this.#absent.size} members failed and not back)`))
      }
      return undefined
    }
    const fetching = this.#fetch.fromOwners(base, route, from, ghosts)
    if (primary) return fetching
    // The copy this read will serve stays while the fetch runs (one that waits for a silent owner can outlast the
    // time a copy is kept), and is noted as used when it is done.
    return fetching.finally(this.#relocation.reading(base))
  }

  async fetchSession(base: string, memberIds?: readonly string[]): Promise<void> {
    const selfId = this.#init.membership.local.id
    const ids = new Set([...(memberIds ?? []), ...this.#owners(base).map((m) => m.id)])
    const from = this.#init.membership.members().filter((m) => m.state === 'alive' && m.id !== selfId && (!memberIds || ids.has(m.id)))
    await Promise.allSettled(from.map((member) => this.#fetch.from(member, base)))
  }

  expiresHere(route: string, base: string): boolean {
    return this.#owners(base, route)[0]?.id === this.#init.membership.local.id
  }

  tombstonesConfirmedThrough(): number {
    return this.#confirmedSeq
  }

  status(): Record<string, unknown> {
    const selfId = this.#init.membership.local.id
    let owned = 0
    let primary = 0
    let held = 0
    for (const record of this.#init.table) {
      held++
      const owners = this.#owners(record.id)
      if (owners[0]?.id === selfId) primary++
      if (owners.some((m) => m.id === selfId)) owned++
    }
    return {
      backups: this.#init.backups,
      sessions: { held, owned, primary, notOwned: held - owned },
      rebalance: { catchingUp: this.#catchUp.size, ...this.#transfer.describe(), ...this.#relocation.describe() },
      streams: this.#streams.describe(),
    }
  }

  /** Owners of a session as this node sees the members now (or without those `leftOut`), primary first. */
  #owners(base: string, routeHint?: string, leftOut?: ReadonlySet<string>): Placed[] {
    const { membership, table, backups } = this.#init
    const route = table.get(base)?.route.value || routeHint || ''
    const members = leftOut ? membership.members().filter((m) => !leftOut.has(m.id)) : membership.members()
    return ownersOf(base, route, [membership.local, ...members], backups)
  }

  /** Local state holds every acknowledged change of the sessions this node is primary of. */
  #trusted(): boolean {
    // Ghosts first: one that expires now puts every member back into the catch-up.
    if (this.#liveGhosts().length > 0 || !this.#transferred || this.#catchUp.size > 0) return false
    return this.#init.membership.members().every((m) => this.#streams.inSyncWith(m.id))
  }

  #liveGhosts(): MemberInfo[] {
    if (this.#ghosts.size === 0) return []
    const now = this.#init.clock.monotonic()
    const live: MemberInfo[] = []
    for (const [id, ghost] of this.#ghosts) {
      if (ghost.until > now) {
        live.push(ghost.member)
        continue
      }
      this.#ghosts.delete(id)
      // While it was a ghost it may have written to other owners under its own view of the members (one where this
      // node was gone, and not an owner): pull again from every member what this node owns before trusting it.
      this.#catchUpWithEveryMember()
    }
    return live
  }

  #catchUpWithEveryMember(): void {
    const now = this.#init.clock.monotonic()
    for (const m of this.#init.membership.members()) this.#catchUp.set(m.id, now)
  }

  /** Pull from `member` what this node owns (begun after `startedAfter`); true once its hand-off is complete (it knew us). */
  async #pullFrom(member: MemberInfo, startedAfter?: number): Promise<boolean> {
    const handedOff = await this.#transfer.pull(member, startedAfter)
    if (handedOff) this.#streams.markSynced(member.id, member.address)
    return handedOff
  }

  #memberGone(member: MemberInfo, reason: LeaveReason): void {
    if (this.#init.mode === 'sync' && reason === 'failed') {
      this.#ghosts.set(member.id, { member, until: this.#init.clock.monotonic() + this.#init.ghostMs })
    }
    if (!this.#transferred) return
    // Placement moved the member's sessions: pull from every member what this node now owns (back to backups + 1
    // copies), and until then read through the owners (it may have committed without us before it went).
    this.#init.metrics.increment('backup.restores')
    this.#catchUpWithEveryMember()
    this.#pushToGainedOwners(member)
  }

  /**
   * The sessions this node owned with `gone` go, whole, to the members that own them now in its place. Their pulls
   * alone do not suffice: a member that noticed the departure before this node pulled while this node still placed
   * those sessions on `gone` (and listed none of them), and counted the hand-off complete.
   */
  #pushToGainedOwners(gone: MemberInfo): void {
    const { membership, table, backups } = this.#init
    const selfId = membership.local.id
    const members = membership.members().filter((m) => m.id !== gone.id)
    const withGone = [membership.local, ...members, gone]
    const without = [membership.local, ...members]
    const byMember = new Map<string, { member: MemberInfo; deltas: Delta[] }>()
    for (const record of table) {
      const before = ownersOf(record.id, record.route.value, withGone, backups)
      if (!before.some((m) => m.id === gone.id) || !before.some((m) => m.id === selfId)) continue
      for (const m of ownersOf(record.id, record.route.value, without, backups)) {
        if (m.id === selfId || before.some((b) => b.id === m.id)) continue
        let entry = byMember.get(m.id)
        if (!entry) byMember.set(m.id, (entry = { member: m as MemberInfo, deltas: [] }))
        entry.deltas.push(recordToDelta(record))
      }
    }
    for (const { member, deltas } of byMember.values()) {
      this.#init.metrics.increment('backup.gained-owner-pushes', deltas.length)
      void this.#transfer.push(member, deltas).catch(() => {}) // it pulls too when its stream from us breaks
    }
  }

  /** Periodic: pull where a hand-off is due, confirm tombstones, let go of what other members own. */
  #maintain(): void {
    if (!this.#transferred) return
    const { membership } = this.#init
    for (const [id, askedAt] of this.#catchUp) {
      const member = membership.member(id)
      if (!member) {
        this.#catchUp.delete(id)
        continue
      }
      // Cleared only by a pull begun after it was asked for, and only if it was not asked for again meanwhile.
      void this.#pullFrom(member, askedAt).then(
        (done) => done && this.#catchUp.get(id) === askedAt && this.#catchUp.delete(id),
        () => {},
      )
    }
    for (const s of this.#streams.describe()) {
      const member = membership.member(s.id)
      if (member && !s.synced && !this.#catchUp.has(s.id)) void this.#pullFrom(member).catch(() => {})
    }
    const streams = this.#streams.describe()
    const now = this.#init.clock.monotonic()
    for (const [id, { since }] of this.#absent) if (now - since > ABSENT_MEMBER_MEMORY_MS) this.#absent.delete(id)
    if (this.#catchUp.size === 0 && this.#absent.size === 0 && streams.every((s) => s.synced && s.included && s.acked === s.sent)) {
      this.#confirmedSeq = this.#init.table.changeSeq
    }
    if (this.#catchUp.size === 0) this.#relocation.run()
  }
}
