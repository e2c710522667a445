import type { Stamp } from './hlc.js'
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

/** Where stamps come from: a HybridClock. `observe` lets a commit order itself after what it loaded. */
export interface StampSource {
  now(): Stamp
  observe(remote: Stamp): unknown
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
  if (record) observeReplaced(record, change, clock)
  const stamp = clock.now()
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

// A local write must beat the value it replaces even if that came from a node whose clock runs ahead
// (within the HLC's drift cap).
function observeReplaced(record: SessionRecord, change: LocalChange, clock: StampSource): void {
  if (change.destroy) return
  if (change.diff) {
    for (const [name] of change.diff.set) observeEntry(record, name, clock)
    for (const name of change.diff.removed) observeEntry(record, name, clock)
  }
  if (change.maxInactiveMs !== undefined) clock.observe(record.maxInactiveMs.stamp)
  if (change.route !== undefined) clock.observe(record.route.stamp)
}

function observeEntry(record: SessionRecord, name: string, clock: StampSource): void {
  const at = record.attrs.find(name)
  if (at >= 0) clock.observe(record.attrs.stamp(at))
}
