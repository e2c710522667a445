import { MalformedMessageError } from '../errors.js'
import { MAX_STAMP_COUNTER, type Stamp } from './hlc.js'
import { attributeNameProblem, MAX_NODE_ID_LENGTH, MAX_ROUTE_LENGTH } from './limits.js'
import { detach } from './strings.js'

// Checks shared by the two wire forms of session state: deltas (`wire.ts`) and full records (`wire-record.ts`).

export function fail(message: string): never {
  throw new MalformedMessageError(`session data: ${message}`)
}

// cbor-x may hand us undefined for an absent item; both mean "not sent".
export function isPresent(value: unknown): boolean {
  return value !== null && value !== undefined
}

export function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

export function readTime(value: unknown, what: string): number {
  if (!isNonNegativeInteger(value)) fail(`${what} must be a non-negative integer`)
  return value
}

export function readStamp(value: unknown, what = 'stamp'): Stamp {
  if (!Array.isArray(value) || value.length !== 3) fail(`${what} must be [wallMs, counter, node]`)
  const [wallMs, counter, node] = value
  if (!isNonNegativeInteger(wallMs) || !isNonNegativeInteger(counter) || counter > MAX_STAMP_COUNTER) {
    fail(`${what} has a bad time or counter`)
  }
  if (!isNodeId(node)) fail(`${what} has a bad node id`)
  return [wallMs, counter, node]
}

export function isNodeId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_NODE_ID_LENGTH
}

// Tomcat's convention: zero or less means the session never expires.
export function readMaxInactive(value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) fail('maxInactiveMs must be an integer')
  return value
}

export function readRoute(value: unknown): string {
  if (typeof value !== 'string' || value.length > MAX_ROUTE_LENGTH || value.includes('.')) {
    fail(`route must be a string of at most ${MAX_ROUTE_LENGTH} characters without "."`)
  }
  return value
}

/**
 * Decoded strings that recur in every session (node ids in stamps, attribute names) are kept once, as the node
 * that wrote them holds them, instead of once per replica record: on a replica of 100k sessions that is
 * hundreds of bytes per session. Bounded, so a peer inventing names cannot grow it without limit.
 */
class StringPool {
  readonly #pool = new Map<string, string>()
  constructor(private readonly limit: number) {}

  get(value: string): string | undefined {
    return this.#pool.get(value)
  }

  add(value: string): string {
    if (this.#pool.size >= this.limit) this.#pool.clear()
    const kept = detach(value)
    this.#pool.set(kept, kept)
    return kept
  }
}

const nodeIds = new StringPool(4_096)
const attributeNames = new StringPool(16_384)

export function internNodeId(value: string): string {
  return nodeIds.get(value) ?? nodeIds.add(value)
}

/** A checked attribute name, as the pool holds it. Pooled names were checked once already. */
export function readAttributeName(value: unknown): string {
  const known = typeof value === 'string' ? attributeNames.get(value) : undefined
  if (known !== undefined) return known
  const problem = attributeNameProblem(value)
  if (problem) fail(problem)
  return attributeNames.add(value as string)
}
