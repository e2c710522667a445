import { InvalidParametersError } from './errors.js'

/**
 * What option errors say about a value: its type as well as its text, so `port: "4201"` reads
 * `got the string "4201"` rather than a bare `got 4201` that looks right.
 */
export function describeValue(value: unknown): string {
  if (value === null) return 'null'
  if (value === undefined) return 'undefined'
  if (Array.isArray(value)) return `an array of ${value.length}`
  switch (typeof value) {
    case 'string':
      return `the string ${JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value)}`
    case 'number':
    case 'bigint':
    case 'boolean':
      return `the ${typeof value} ${String(value)}`
    case 'function':
      return 'a function'
    case 'symbol':
      return 'a symbol'
    default:
      return value instanceof RegExp ? `the RegExp ${String(value)}` : 'an object'
  }
}

/** The known name closest to `name` (a typo: at most a third of its letters off), or undefined. */
export function closestName(name: string, known: Iterable<string>): string | undefined {
  const lower = name.toLowerCase()
  let best: string | undefined
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1
  for (const candidate of known) {
    const distance = candidate.toLowerCase() === lower ? 0 : editDistance(lower, candidate.toLowerCase())
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  return best
}

/**
 * Refuse keys of `options` that are not in `known`, naming the closest known one. `refused` maps keys that
 * exist elsewhere (the framework's own options) to why they cannot be used here.
 */
export function refuseUnknownOptions(
  options: object,
  known: ReadonlySet<string>,
  { what, prefix = '', refused = {} }: { what: string; prefix?: string; refused?: Readonly<Record<string, string>> },
): void {
  for (const key of Object.keys(options)) {
    if (known.has(key)) continue
    const reason = refused[key]
    if (reason) throw new InvalidParametersError(`${prefix}option "${key}" is not supported: ${reason}`)
    const suggestion = closestName(key, known)
    throw new InvalidParametersError(`${prefix}unknown ${what} "${key}"${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`)
  }
}

/** Levenshtein distance; option names are short. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[b.length]!
}
