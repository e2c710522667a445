import { AttributeSet } from './attributes.js'
import type { Stamp } from './hlc.js'
import { isValidSessionId, MAX_ATTRIBUTES_PER_DELTA } from './limits.js'
import { type Delta, isUnsetRegister, type Register, type SessionRecord } from './record.js'
import { detach } from './strings.js'
import {
  fail,
  internNodeId,
  isNodeId,
  isNonNegativeInteger,
  isPresent,
  readAttributeName,
  readMaxInactive,
  readRoute,
  readTime,
} from './wire-checks.js'

/**
 * A whole record as a state transfer sends it: the record's own packed layout (see `AttributeSet`) with
 * each stamp written once in a table and referred to by position, attribute names and node ids written
 * once per chunk (`WireStrings`) and referred to by position, absent parts as null, trailing nulls trimmed.
 *   [id, createdAt, lastAccessedAt, stamps, index, text, maxInactiveMs, route, destroyed]
 *   stamps: [wallMs, counter, node$, wallMs, counter, node$, ...]     index: [name$, stamp#, end, ...]
 *   text: the attributes' JSON back to back     register: [stamp#, value]     destroyed: stamp#
 *   ($: position in the chunk's strings, #: position in the record's stamps)
 * Encoding reads the record directly and decoding adopts the decoded index and text as the new record's
 * storage, so 100k sessions cost few allocations on either side.
 */
export type WireRecord = unknown[]

/** The strings of one chunk, sending side: each attribute name and node id once. */
export class WireStringTable {
  readonly list: string[] = []
  readonly #positions = new Map<string, number>()

  ref(value: string): number {
    let position = this.#positions.get(value)
    if (position === undefined) {
      position = this.list.push(value) - 1
      this.#positions.set(value, position)
    }
    return position
  }
}

/**
 * The strings of one chunk, receiving side: each is checked (and pooled) once, as a name or as a node id,
 * the first time a record refers to it in that role.
 */
export class WireStrings {
  readonly #raw: readonly unknown[]
  readonly #names: Array<string | undefined> = []
  readonly #nodes: Array<string | undefined> = []

  constructor(raw: unknown) {
    if (!Array.isArray(raw) || raw.length > MAX_CHUNK_STRINGS) fail(`strings must be an array of at most ${MAX_CHUNK_STRINGS}`)
    this.#raw = raw
  }

  name(position: unknown): string {
    const at = this.#position(position)
    return (this.#names[at] ??= readAttributeName(this.#raw[at]))
  }

  node(position: unknown): string {
    const at = this.#position(position)
    let node = this.#nodes[at]
    if (node === undefined) {
      const raw = this.#raw[at]
      if (!isNodeId(raw)) fail('bad node id in a stamp')
      node = this.#nodes[at] = internNodeId(raw)
    }
    return node
  }

  #position(value: unknown): number {
    if (!isNonNegativeInteger(value) || value >= this.#raw.length) fail('refers to no string of the chunk')
    return value
  }
}

const MAX_CHUNK_STRINGS = 1_000_000

export function recordToWire(record: SessionRecord, strings: WireStringTable): WireRecord {
  const table: Stamp[] = []
  // Stamps are shared by the writes of one commit, so identity finds nearly every repeat.
  const ref = (stamp: Stamp): number => {
    const known = table.indexOf(stamp)
    if (known >= 0) return known
    table.push(stamp)
    return table.length - 1
  }
  const { index, text } = record.attrs.packed()
  const wireIndex: unknown[] = new Array(index.length)
  for (let i = 0; i < index.length; i += 3) {
    wireIndex[i] = strings.ref(index[i] as string)
    wireIndex[i + 1] = ref(index[i + 1] as Stamp)
    wireIndex[i + 2] = index[i + 2]
  }
  const register = (r: Register<unknown>) => (isUnsetRegister(r) ? null : [ref(r.stamp), r.value])
  const maxInactiveMs = register(record.maxInactiveMs)
  const route = register(record.route)
  const destroyed = record.destroyed ? ref(record.destroyed) : null
  const stamps: unknown[] = []
  for (const stamp of table) stamps.push(stamp[0], stamp[1], strings.ref(stamp[2]))
  const wire: unknown[] = [
    record.id,
    Number.isFinite(record.createdAt) ? record.createdAt : null,
    record.lastAccessedAt,
    stamps,
    index.length > 0 ? wireIndex : null,
    index.length > 0 ? text : null,
    maxInactiveMs,
    route,
    destroyed,
  ]
  while (wire.length > 1 && wire[wire.length - 1] === null) wire.pop()
  return wire
}

/**
 * Validate a decoded wire record from a peer and turn it into a delta carrying the full state. Anything
 * not exactly the expected shape throws MalformedMessageError. Takes ownership of the decoded index
 * array (it becomes the record's storage), so the caller must not use `input` afterwards.
 */
export function recordFromWire(input: unknown, strings: WireStrings): Delta {
  if (!Array.isArray(input) || input.length < 1 || input.length > 9) fail('record must be an array of 1 to 9 items')
  const [id, createdAt, lastAccessedAt, stampList, index, text, maxInactiveMs, route, destroyed] = input
  if (!isValidSessionId(id)) fail('invalid session id')
  const stamps = readStampTable(stampList, strings)
  const delta: Delta = { id }
  if (isPresent(createdAt)) delta.createdAt = readTime(createdAt, 'createdAt')
  if (isPresent(lastAccessedAt)) delta.lastAccessedAt = readTime(lastAccessedAt, 'lastAccessedAt')
  if (isPresent(index) || isPresent(text)) delta.attrs = readPacked(index, text, stamps, strings)
  if (isPresent(maxInactiveMs)) delta.maxInactiveMs = readRegister(maxInactiveMs, 'maxInactiveMs', readMaxInactive, stamps)
  if (isPresent(route)) delta.route = readRegister(route, 'route', readRoute, stamps)
  if (isPresent(destroyed)) delta.destroyed = stampAt(stamps, destroyed, 'destroyed')
  return delta
}

function readStampTable(value: unknown, strings: WireStrings): Stamp[] {
  if (!isPresent(value)) return []
  if (!Array.isArray(value) || value.length % 3 !== 0) fail('stamps must be a flat array of [wallMs, counter, node] triples')
  const stamps: Stamp[] = []
  for (let i = 0; i < value.length; i += 3) {
    const wallMs: unknown = value[i]
    const counter: unknown = value[i + 1]
    if (!isNonNegativeInteger(wallMs) || !isNonNegativeInteger(counter)) fail('bad stamp time or counter')
    stamps.push([wallMs, counter, strings.node(value[i + 2])])
  }
  return stamps
}

function stampAt(stamps: readonly Stamp[], position: unknown, what: string): Stamp {
  if (!isNonNegativeInteger(position) || position >= stamps.length) fail(`${what} refers to no stamp`)
  return stamps[position]!
}

function readRegister<T>(value: unknown, what: string, readValue: (v: unknown) => T, stamps: readonly Stamp[]): Register<T> {
  if (!Array.isArray(value) || value.length !== 2) fail(`${what} must be [stamp#, value]`)
  return { stamp: stampAt(stamps, value[0], what), value: readValue(value[1]) }
}

/** Checks the packed attributes (see `AttributeSet`) in place, resolving stamp positions, and adopts them. */
function readPacked(index: unknown, text: unknown, stamps: readonly Stamp[], strings: WireStrings): AttributeSet {
  if (!Array.isArray(index) || index.length % 3 !== 0 || index.length / 3 > MAX_ATTRIBUTES_PER_DELTA) {
    fail(`index must be [name, stamp#, end] for at most ${MAX_ATTRIBUTES_PER_DELTA} attributes`)
  }
  if (typeof text !== 'string') fail('text must be a string')
  // Duplicate names: a scan for the usual few attributes, a set where a peer could make the scan quadratic.
  const seen = index.length > 3 * 16 ? new Set<unknown>() : undefined
  let previousEnd = 0
  for (let i = 0; i < index.length; i += 3) {
    const name = strings.name(index[i])
    let repeated = false
    if (seen) {
      repeated = seen.has(name)
      seen.add(name)
    } else for (let j = 0; j < i; j += 3) if (index[j] === name) repeated = true
    if (repeated) fail(`attribute "${name}" appears twice`)
    const end: unknown = index[i + 2]
    if (!isNonNegativeInteger(end) || end < previousEnd || end > text.length) fail('attribute ends must rise within the text')
    index[i] = name
    index[i + 1] = stampAt(stamps, index[i + 1], 'attribute')
    previousEnd = end
  }
  if (previousEnd !== text.length) fail('text is longer than its attributes')
  return AttributeSet.fromPacked(index as Array<string | Stamp | number>, detach(text))
}
