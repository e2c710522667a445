import { InvalidParametersError } from '../errors.js'
import { compareStamps, maxStamp, type Stamp } from './hlc.js'
import { AttributeSet, type AttrWrite } from './attributes.js'
import { detach } from './strings.js'
import {
  type Delta,
  emptyRecord,
  isUnsetRegister,
  type Register,
  type SessionRecord,
  UNSET_MAX_INACTIVE,
  UNSET_ROUTE,
} from './record.js'

/** What a merge made visible, so the caller can emit session and attribute events. */
export type SessionChange =
  | { type: 'created'; id: string }
  | { type: 'attribute-set'; id: string; name: string; oldJson: string | undefined; newJson: string }
  | { type: 'attribute-removed'; id: string; name: string; oldJson: string }
  | { type: 'route-changed'; id: string; oldRoute: string; newRoute: string }
  | { type: 'max-inactive-changed'; id: string; oldMs: number; newMs: number }
  /** `attributes` are the values the session held when it died (for unbinding listeners). */
  | { type: 'destroyed'; id: string; attributes: Array<[name: string, json: string]> }

export interface MergeResult {
  record: SessionRecord
  changes: SessionChange[]
}

/**
 * Merge `delta` into `record` (updated in place: the table owns it) or into a new record when the session
 * is unknown, so a delta that overtakes its create is kept, not dropped.
 *
 * Per attribute and per register the write with the highest stamp wins (removals included); equal stamps
 * are broken by value so the result never depends on arrival order. createdAt takes the min, lastAccessedAt
 * the max. Destruction is final: a destroyed record drops its attributes and ignores every later write.
 * The merge is commutative, associative and idempotent (see session-merge.test.ts).
 * With `report` false no changes are described (nobody listens; a state transfer merges 10^5 records).
 */
export function applyDelta(record: SessionRecord | undefined, delta: Delta, report = true): MergeResult {
  const isNew = record === undefined
  // A new record keeps its id for as long as the session lives: a copy, not a slice of a cookie or message.
  const target = record ?? emptyRecord(detach(delta.id))
  if (target.id !== delta.id) {
    throw new InvalidParametersError(`delta for session ${delta.id} applied to session ${target.id}`)
  }
  const changes: SessionChange[] = []
  if (delta.createdAt !== undefined && delta.createdAt < target.createdAt) target.createdAt = delta.createdAt
  if (delta.lastAccessedAt !== undefined && delta.lastAccessedAt > target.lastAccessedAt) {
    target.lastAccessedAt = delta.lastAccessedAt
  }
  const reported = report ? changes : undefined
  if (delta.destroyed) mergeDestroyed(target, delta.destroyed, isNew, reported)
  if (!target.destroyed) {
    mergeAttributes(target, delta, reported)
    mergeRegisters(target, delta, changes)
    if (isNew) changes.unshift({ type: 'created', id: target.id })
  }
  return { record: target, changes: report ? changes : [] }
}

function mergeDestroyed(record: SessionRecord, destroyed: Stamp, isNew: boolean, changes: SessionChange[] | undefined): void {
  if (record.destroyed) {
    record.destroyed = maxStamp(record.destroyed, destroyed)
    return
  }
  const attributes: Array<[string, string]> = []
  if (changes) {
    record.attrs.forEach((name, _stamp, json) => {
      if (json !== undefined) attributes.push([name, json])
    })
  }
  // Only the stamp and access time are needed to refuse late writes and to age the tombstone out.
  record.destroyed = destroyed
  record.attrs = AttributeSet.EMPTY
  record.maxInactiveMs = UNSET_MAX_INACTIVE
  record.route = UNSET_ROUTE
  if (!isNew) changes?.push({ type: 'destroyed', id: record.id, attributes })
}

function mergeAttributes(record: SessionRecord, delta: Delta, changes: SessionChange[] | undefined): void {
  const incoming = delta.attrs
  if (!incoming) return
  if (incoming instanceof AttributeSet && record.attrs.size === 0) {
    // A whole set arriving at a session with no attributes yet (a state transfer): every entry wins.
    record.attrs = incoming
    if (!changes) return
    incoming.forEach((name, _stamp, json) => {
      if (json !== undefined) changes.push({ type: 'attribute-set', id: record.id, name, oldJson: undefined, newJson: json })
    })
    return
  }
  // A peer's delta may name an attribute twice: later writes then compete with the earlier winner.
  const current = record.attrs
  const winners = new Map<string, AttrWrite>()
  const consider = (name: string, stamp: Stamp, json: string | undefined) => {
    const pending = winners.get(name)
    if (pending) {
      if (attributeWriteWins(stamp, json, pending[1], pending[2])) winners.set(name, [name, stamp, json])
      return
    }
    const at = current.find(name)
    if (at >= 0 && !attributeWriteWins(stamp, json, current.stamp(at), current.json(at))) return
    winners.set(name, [name, stamp, json])
  }
  if (incoming instanceof AttributeSet) incoming.forEach(consider)
  else for (const [name, stamp, json] of incoming) consider(name, stamp, json)
  if (winners.size === 0) return
  if (changes) reportAttributeChanges(record.id, current, winners.values(), changes)
  record.attrs = current.withWrites([...winners.values()])
}

function reportAttributeChanges(id: string, current: AttributeSet, winners: Iterable<AttrWrite>, changes: SessionChange[]): void {
  for (const [name, , json] of winners) {
    const at = current.find(name)
    const oldJson = at < 0 ? undefined : current.json(at)
    if (oldJson === json) continue
    if (json === undefined) changes.push({ type: 'attribute-removed', id, name, oldJson: oldJson! })
    else changes.push({ type: 'attribute-set', id, name, oldJson, newJson: json })
  }
}

/** Higher stamp wins; on a tie a removal wins, then the greater json, so every replica picks the same. */
function attributeWriteWins(stamp: Stamp, json: string | undefined, currentStamp: Stamp, currentJson: string | undefined): boolean {
  const order = compareStamps(stamp, currentStamp)
  if (order !== 0) return order > 0
  if (json === currentJson) return false
  if (json === undefined) return true
  if (currentJson === undefined) return false
  return json > currentJson
}

function registerWriteWins<T extends string | number>(incoming: Register<T>, current: Register<T>): boolean {
  const order = compareStamps(incoming.stamp, current.stamp)
  return order !== 0 ? order > 0 : incoming.value > current.value
}

function mergeRegisters(record: SessionRecord, delta: Delta, changes: SessionChange[]): void {
  const { maxInactiveMs, route } = delta
  if (maxInactiveMs && registerWriteWins(maxInactiveMs, record.maxInactiveMs)) {
    const old = record.maxInactiveMs
    record.maxInactiveMs = maxInactiveMs
    if (!isUnsetRegister(old) && old.value !== maxInactiveMs.value) {
      changes.push({ type: 'max-inactive-changed', id: record.id, oldMs: old.value, newMs: maxInactiveMs.value })
    }
  }
  if (route && registerWriteWins(route, record.route)) {
    const old = record.route
    record.route = route
    if (!isUnsetRegister(old) && old.value !== route.value) {
      changes.push({ type: 'route-changed', id: record.id, oldRoute: old.value, newRoute: route.value })
    }
  }
}
