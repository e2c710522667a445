import { AttributeSet, type AttrWrite } from './attributes.js'
import type { Stamp } from './hlc.js'
import { isValidSessionId, MAX_ATTRIBUTES_PER_DELTA } from './limits.js'
import type { Delta, Register } from './record.js'
import {
  fail,
  internNodeId,
  isPresent,
  readAttributeName,
  readMaxInactive,
  readRoute,
  readStamp,
  readTime,
} from './wire-checks.js'

/**
 * A delta as it goes into CBOR: a positional array, absent parts as null, trailing nulls trimmed.
 *   [id, createdAt, attrs, maxInactiveMs, route, lastAccessedAt, destroyed]
 *   attrs: [[name, stamp, json | null], ...]   register: [stamp, value]   stamp: [wallMs, counter, node]
 */
export type WireDelta = unknown[]

export function toWire(delta: Delta): WireDelta {
  const writes = delta.attrs instanceof AttributeSet ? delta.attrs.toWrites() : delta.attrs
  const wire: unknown[] = [
    delta.id,
    delta.createdAt ?? null,
    writes ? writes.map(([name, stamp, json]) => [name, stamp, json ?? null]) : null,
    delta.maxInactiveMs ? [delta.maxInactiveMs.stamp, delta.maxInactiveMs.value] : null,
    delta.route ? [delta.route.stamp, delta.route.value] : null,
    delta.lastAccessedAt ?? null,
    delta.destroyed ?? null,
  ]
  while (wire.length > 1 && wire[wire.length - 1] === null) wire.pop()
  return wire
}

/** The session a delta we encoded ourselves is about, and whether it destroys it (no validation: our own data). */
export function wireDeltaTarget(wire: WireDelta): { id: string; destroys: boolean } {
  return { id: wire[0] as string, destroys: isPresent(wire[6]) }
}

/**
 * Validate and convert a decoded wire delta from a peer. Anything that is not exactly the expected
 * shape throws MalformedMessageError, and nothing of the input is aliased by the result.
 */
export function fromWire(input: unknown): Delta {
  if (!Array.isArray(input) || input.length < 1 || input.length > 7) fail('delta must be an array of 1 to 7 items')
  const [id, createdAt, attrs, maxInactiveMs, route, lastAccessedAt, destroyed] = input
  if (!isValidSessionId(id)) fail('invalid session id')
  const stamps = stampReader()
  const delta: Delta = { id }
  if (isPresent(createdAt)) delta.createdAt = readTime(createdAt, 'createdAt')
  if (isPresent(attrs)) delta.attrs = readAttributes(attrs, stamps)
  if (isPresent(maxInactiveMs)) delta.maxInactiveMs = readRegister(maxInactiveMs, 'maxInactiveMs', readMaxInactive, stamps)
  if (isPresent(route)) delta.route = readRegister(route, 'route', readRoute, stamps)
  if (isPresent(lastAccessedAt)) delta.lastAccessedAt = readTime(lastAccessedAt, 'lastAccessedAt')
  if (isPresent(destroyed)) delta.destroyed = stamps(destroyed, 'destroyed')
  return delta
}

type StampReader = (value: unknown, what: string) => Stamp

/**
 * Reads the stamps of one delta. The writes of one commit share a stamp, so an equal stamp reuses the
 * previous array: a replica then holds one stamp per commit, as the node that wrote it does (stamps are
 * never mutated).
 */
function stampReader(): StampReader {
  let last: Stamp | undefined
  return (value, what) => {
    const stamp = readStamp(value, what)
    if (last && last[0] === stamp[0] && last[1] === stamp[1] && last[2] === stamp[2]) return last
    last = [stamp[0], stamp[1], internNodeId(stamp[2])]
    return last
  }
}

function readRegister<T>(value: unknown, what: string, readValue: (v: unknown) => T, stamps: StampReader): Register<T> {
  if (!Array.isArray(value) || value.length !== 2) fail(`${what} must be [stamp, value]`)
  return { stamp: stamps(value[0], what), value: readValue(value[1]) }
}

function readAttributes(value: unknown, stamps: StampReader): AttrWrite[] {
  if (!Array.isArray(value) || value.length > MAX_ATTRIBUTES_PER_DELTA) {
    fail(`attrs must be an array of at most ${MAX_ATTRIBUTES_PER_DELTA} entries`)
  }
  return value.map((item): AttrWrite => {
    if (!Array.isArray(item) || item.length !== 3) fail('attribute must be [name, stamp, json]')
    const [name, stamp, json] = item
    return [readAttributeName(name), stamps(stamp, 'attribute stamp'), readJson(json)]
  })
}

function readJson(value: unknown): string | undefined {
  if (!isPresent(value)) return undefined
  if (typeof value !== 'string' || value.length === 0) fail('attribute value must be JSON text or null')
  // Parsed (and so fully checked) when a request loads it (loadSession): parsing every value here too
  // cost a quarter of a state transfer's CPU, for text an authenticated peer produced with JSON.stringify.
  return value
}
