import { maxStamp, type Stamp } from './hlc.js'
import { applyDelta, type MergeResult } from './merge.js'
import type { AttrWrite } from './attributes.js'
import type { Delta, SessionRecord } from './record.js'
import type { SessionDiff } from './view.js'

/** What one request (or an API call) did to a session on this node. */
export interface LocalChange {
  id: string
  diff?: Pick<SessionDiff, 'set' | 'removed'>
  /** Set for a session created by this request. */
  createdAt?: number
  maxInactiveMs?: number
  route?: string
  lastAccessedAt?: number
  destroy?: boolean
}

/** Where stamps come from: a HybridClock. `after` lets a commit order itself after the values it replaces. */
export interface StampSource {
  now(): Stamp
  after(replaced: Stamp | undefined): Stamp
}

export interface LocalCommit extends MergeResult {
  delta: Delta
}

/**
 * Turn a local change into a delta stamped with one fresh stamp (names are distinct within a commit, so
 * one stamp per commit suffices). Returns undefined when there is nothing to send.
 * `record` is the current replica, used only so the new stamp orders after the writes being replaced.
 */
export function deltaForLocalChange(
  record: SessionRecord | undefined,
  change: LocalChange,
  clock: StampSource,
): Delta | undefined {
  const { diff } = change
  const writesSomething =
    change.destroy ||
    (diff && (diff.set.length > 0 || diff.removed.length > 0)) ||
    change.maxInactiveMs !== undefined ||
    change.route !== undefined
  if (!writesSomething) {
    if (change.createdAt === undefined && change.lastAccessedAt === undefined) return undefined
    return withTimes({ id: change.id }, change)
  }
  const stamp = record ? clock.after(replacedMax(record, change)) : clock.now()
  const delta = withTimes({ id: change.id }, change)
  if (change.destroy) {
    delta.destroyed = stamp
    return delta
  }
  if (diff && (diff.set.length > 0 || diff.removed.length > 0)) {
    const attrs: AttrWrite[] = diff.set.map(([name, json]) => [name, stamp, json])
    for (const name of diff.removed) attrs.push([name, stamp, undefined])
    delta.attrs = attrs
  }
  if (change.maxInactiveMs !== undefined) delta.maxInactiveMs = { stamp, value: change.maxInactiveMs }
  if (change.route !== undefined) delta.route = { stamp, value: change.route }
  return delta
}

/** Build the delta for a local change and apply it to the local replica; the caller then broadcasts `delta`. */
export function commitLocalChange(
  record: SessionRecord | undefined,
  change: LocalChange,
  clock: StampSource,
): LocalCommit | undefined {
  const delta = deltaForLocalChange(record, change, clock)
  if (!delta) return undefined
  return { delta, ...applyDelta(record, delta) }
}

function withTimes(delta: Delta, change: LocalChange): Delta {
  if (change.createdAt !== undefined) delta.createdAt = change.createdAt
  if (change.lastAccessedAt !== undefined) delta.lastAccessedAt = change.lastAccessedAt
  return delta
}

/**
 * The highest stamp among the values this change replaces: a local write must beat each of them, even one
 * from a node whose clock runs far ahead (destruction is final whatever its stamp, so it needs none).
 */
function replacedMax(record: SessionRecord, change: LocalChange): Stamp | undefined {
  if (change.destroy) return undefined
  let max: Stamp | undefined
  const consider = (stamp: Stamp) => {
    max = max ? maxStamp(max, stamp) : stamp
  }
  const entry = (name: string) => {
    const at = record.attrs.find(name)
    if (at >= 0) consider(record.attrs.stamp(at))
  }
  if (change.diff) {
    for (const [name] of change.diff.set) entry(name)
    for (const name of change.diff.removed) entry(name)
  }
  if (change.maxInactiveMs !== undefined) consider(record.maxInactiveMs.stamp)
  if (change.route !== undefined) consider(record.route.stamp)
  return max
}
