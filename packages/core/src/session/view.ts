import { InvalidParametersError, MalformedMessageError, SessionTooLargeError, UnserializableValueError } from '../errors.js'
import { attributeNameProblem } from './limits.js'
import type { SessionRecord } from './record.js'

/** A session as one request sees it, plus what it looked like when loaded (to diff against at commit). */
export interface LoadedSession {
  id: string
  /** Fresh objects per request: the request may mutate them in place. */
  data: Record<string, unknown>
  /** The json of each attribute at load. */
  baseline: ReadonlyMap<string, string>
}

/** What a request changed, measured against what it loaded. */
export interface SessionDiff {
  set: Array<[name: string, json: string]>
  removed: string[]
  /** Encoded size of the whole session after the change (names + json, UTF-8). */
  bytes: number
}

export interface DiffOptions {
  /** Refuse a change that leaves the session bigger than this. */
  maxSessionBytes?: number
}

export function loadSession(record: SessionRecord): LoadedSession {
  const data: Record<string, unknown> = {}
  const baseline = new Map<string, string>()
  record.attrs.forEach((name, _stamp, json) => {
    if (json === undefined) return
    // Names were validated on the way in (fromWire / diffSession), so this cannot reach a prototype.
    data[name] = parseStored(name, json)
    baseline.set(name, json)
  })
  return { id: record.id, data, baseline }
}

/**
 * Compare every attribute's current JSON with the baseline, so in-place changes (`data.cart.push(x)`)
 * are found. Attributes missing from `data`, or whose JSON is undefined (functions, symbols, undefined),
 * count as removed. Throws InvalidParametersError for a bad new name, UnserializableValueError for a value
 * JSON.stringify refuses (BigInt, cycles), SessionTooLargeError when a change leaves the session over
 * `maxSessionBytes` (an unchanged session is never refused, so reads keep working if the limit shrinks).
 */
/** Values from peers are JSON-checked here, when first used, rather than on arrival (see fromWire). */
function parseStored(name: string, json: string): unknown {
  try {
    return JSON.parse(json)
  } catch (error) {
    throw new MalformedMessageError(`session attribute "${name}" holds invalid JSON from a peer`, { cause: error })
  }
}

export function diffSession(
  baseline: ReadonlyMap<string, string>,
  data: Record<string, unknown>,
  options: DiffOptions = {},
): SessionDiff {
  const set: Array<[string, string]> = []
  const removed: string[] = []
  let bytes = 0
  let present = 0
  for (const name of Object.keys(data)) {
    const json = stringifyAttribute(name, data[name])
    const before = baseline.get(name)
    if (before !== undefined) present++
    if (json === undefined) {
      if (before !== undefined) removed.push(name)
      continue
    }
    bytes += Buffer.byteLength(name) + Buffer.byteLength(json)
    if (json === before) continue
    if (before === undefined) {
      const problem = attributeNameProblem(name)
      if (problem) throw new InvalidParametersError(problem)
    }
    set.push([name, json])
  }
  // Baseline attributes no longer own properties of data were deleted.
  if (present < baseline.size) {
    for (const name of baseline.keys()) if (!Object.hasOwn(data, name)) removed.push(name)
  }
  const { maxSessionBytes } = options
  if (maxSessionBytes !== undefined && bytes > maxSessionBytes && (set.length > 0 || removed.length > 0)) {
    throw new SessionTooLargeError(`session is ${bytes} bytes, more than maxSessionBytes ${maxSessionBytes}`)
  }
  return { set, removed, bytes }
}

export function isEmptyDiff(diff: Pick<SessionDiff, 'set' | 'removed'>): boolean {
  return diff.set.length === 0 && diff.removed.length === 0
}

function stringifyAttribute(name: string, value: unknown): string | undefined {
  try {
    return JSON.stringify(value)
  } catch (error) {
    throw new UnserializableValueError(`session attribute "${name}" cannot be stored as JSON`, { cause: error })
  }
}
