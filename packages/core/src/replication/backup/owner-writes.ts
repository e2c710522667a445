import { StaleReplicaError } from '../../errors.js'
import type { MemberInfo } from '../../membership/membership.js'
import type { Metrics } from '../../metrics.js'
import { type Delta, recordToDelta, type SessionTable } from '../../session/index.js'
import type { ReplicationStreams } from '../stream/replication-streams.js'
import type { Placed } from './placement.js'

export interface OwnerWritesInit {
  streams: ReplicationStreams
  table: SessionTable
  metrics: Metrics
  localId: string
  mode: 'sync' | 'async'
  /** Owners of a session, primary first, without the members `leftOut`. */
  owners(base: string, routeHint?: string, leftOut?: ReadonlySet<string>): Placed[]
  /** Members failure detection gave up on a moment ago (sync mode): a commit none of them took is not acknowledged. */
  liveGhosts(): readonly MemberInfo[]
}

/**
 * The write side of primary/backup replication: a commit goes to the session's owners only (a destruction or a
 * rebinding to every member), and in `sync` mode is acknowledged once an owner holds it. An owner that misses it is
 * replaced by its stand-ins, the members that own the session without it.
 */
export class OwnerWrites {
  readonly #init: OwnerWritesInit

  constructor(init: OwnerWritesInit) {
    this.#init = init
  }

  async commit(deltas: Delta[], why?: 'expired'): Promise<void> {
    const selfId = this.#init.localId
    const groups = new Map<string, { targets: string[] | undefined; deltas: Delta[] }>()
    const add = (targets: string[] | undefined, delta: Delta) => {
      const key = targets ? targets.join(',') : '*'
      let group = groups.get(key)
      if (!group) groups.set(key, (group = { targets, deltas: [] }))
      group.deltas.push(delta)
    }
    for (const delta of deltas) {
      const owners = this.#init.owners(delta.id)
        .filter((m) => m.id !== selfId)
        .map((m) => m.id)
        .sort()
      if (delta.destroyed !== undefined || (delta.route !== undefined && delta.createdAt === undefined)) {
        // A destruction or a rebinding reaches every member: any may hold a copy (a former owner, a writer), and a
        // copy that missed it would serve a destroyed session, or think it is still the session's primary. The new
        // owners of a rebound session get all of it: they may not have held it.
        add(undefined, delta)
        const record = this.#init.table.get(delta.id)
        if (!delta.destroyed && record) add(owners, recordToDelta(record))
      } else {
        add(owners, delta)
      }
    }
    const sent = [...groups.values()].map((g) => ({ ...g, outcomes: this.#init.streams.publish(g.deltas, why, g.targets) }))
    if (this.#init.mode !== 'sync') {
      for (const s of sent) s.outcomes.catch(() => {})
      return
    }
    for (const group of sent) {
      const result = await group.outcomes
      let applied = 0
      let excluded = 0
      const missed = new Set<string>()
      for (const [id, outcome] of result) {
        if (outcome === 'applied') applied++
        else {
          missed.add(id)
          this.#init.metrics.increment(`replication.commit.${outcome}`)
        }
        if (outcome === 'excluded' || outcome === 'refused') excluded++
      }
      // An owner missed the change (excluded, gone): the next members of the ranking take a copy, so the change is
      // on backups + 1 members all the same, and whoever reads without that owner asks them.
      if (group.targets && missed.size > 0) {
        const standIns = await this.#toStandIns(group.deltas, group.targets, missed)
        // Readers ask stand-ins only for an owner that does not answer them while another does: a change no owner
        // holds (this node is none, and every other missed it) would be read by nobody. Not acknowledged.
        if (missed.size === group.targets.length && !group.deltas.every((d) => this.#init.owners(d.id).some((m) => m.id === selfId))) {
          this.#init.metrics.increment('backup.commit.no-owner')
          throw new StaleReplicaError('no owner of the session applied the change (stand-ins hold it, and hand it to the owners later)')
        }
        applied += standIns
      }
      // No other owner because this node is alone in its view: acknowledged alone only once the members it lost have
      // stopped being ghosts (failure detection may have given up on them a moment ago, behind a link already back).
      const alone = group.targets !== undefined && group.targets.length === 0
      if (applied === 0 && ((!alone && excluded > 0) || this.#init.liveGhosts().length > 0)) {
        // Owners are alive as far as we know, yet none holds the change: it is on this node only (see all-to-all).
        this.#init.metrics.increment('replication.commit.unreplicated')
        throw new StaleReplicaError('no owner in step applied the change: it is on this node only')
      }
    }
  }

  /** Send whole records to the members that own them when `missed` are left out; resolves how many applied. */
  async #toStandIns(deltas: Delta[], tried: string[], missed: ReadonlySet<string>): Promise<number> {
    const selfId = this.#init.localId
    const byTargets = new Map<string, { targets: string[]; deltas: Delta[] }>()
    for (const delta of deltas) {
      const record = this.#init.table.get(delta.id)
      if (!record) continue
      const targets = this.#init.owners(delta.id, undefined, missed)
        .map((m) => m.id)
        .filter((id) => id !== selfId && !tried.includes(id))
        .sort()
      if (targets.length === 0) continue
      const key = targets.join(',')
      let group = byTargets.get(key)
      if (!group) byTargets.set(key, (group = { targets, deltas: [] }))
      group.deltas.push(recordToDelta(record))
    }
    let applied = 0
    for (const { targets, deltas: records } of byTargets.values()) {
      this.#init.metrics.increment('backup.stand-in-copies', records.length)
      const result = await this.#init.streams.publish(records, undefined, targets)
      for (const outcome of result.values()) if (outcome === 'applied') applied++
    }
    return applied
  }
}
