import type { Stamp } from './hlc.js'
import type { SessionRecord } from './record.js'

/**
 * A session's version as a client carries it in async mode (read-your-writes, monotonic reads): for each node that
 * wrote the session, the highest stamp of its writes. A replica that holds, for every one of those nodes, a write
 * at least as high has every change the client saw, because a node's writes to a session reach a replica in the
 * order it made them (one ordered stream per writer; anti-entropy and fetches bring whole records).
 *
 * On the wire: entries `node.wall.counter` (wall and counter in base 36) joined by `~`, at most MAX_TOKEN_ENTRIES
 * (the most recent writers kept): small enough for a cookie, and a forged one costs at most one bounded fetch.
 */
export type VersionToken = ReadonlyArray<readonly [node: string, wall: number, counter: number]>

export const MAX_TOKEN_ENTRIES = 8
const MAX_TOKEN_CHARS = 512
const NODE_ID = /^[A-Za-z0-9_-]{1,64}$/
const BASE36 = /^[0-9a-z]{1,11}$/

/** The highest stamp per writing node in `record` (attributes, removals, registers and destruction). */
function highestPerWriter(record: SessionRecord): Map<string, Stamp> {
  const highest = new Map<string, Stamp>()
  const see = (stamp: Stamp) => {
    const node = stamp[2]
    if (node === '') return // never written
    const known = highest.get(node)
    if (!known || stamp[0] > known[0] || (stamp[0] === known[0] && stamp[1] > known[1])) highest.set(node, stamp)
  }
  for (let i = 0; i < record.attrs.size; i++) see(record.attrs.stamp(i))
  see(record.maxInactiveMs.stamp)
  see(record.route.stamp)
  if (record.destroyed) see(record.destroyed)
  return highest
}

/** The record's version: its most recent writers (at most MAX_TOKEN_ENTRIES), newest first. */
export function versionOf(record: SessionRecord): VersionToken {
  return [...highestPerWriter(record).values()]
    .sort((a, b) => b[0] - a[0] || b[1] - a[1])
    .slice(0, MAX_TOKEN_ENTRIES)
    .map(([wall, counter, node]) => [node, wall, counter] as const)
}

export function encodeVersionToken(token: VersionToken): string {
  return token.map(([node, wall, counter]) => `${node}.${wall.toString(36)}.${counter.toString(36)}`).join('~')
}

/** The token in `text`, or undefined when it is not one (malformed, too long, too many entries). */
export function parseVersionToken(text: unknown): VersionToken | undefined {
  if (typeof text !== 'string' || text.length === 0 || text.length > MAX_TOKEN_CHARS) return undefined
  const parts = text.split('~')
  if (parts.length > MAX_TOKEN_ENTRIES) return undefined
  const out: Array<readonly [string, number, number]> = []
  for (const part of parts) {
    const [node, wall, counter, extra] = part.split('.')
    if (extra !== undefined || !node || !NODE_ID.test(node) || !wall || !BASE36.test(wall) || !counter || !BASE36.test(counter)) return undefined
    out.push([node, Number.parseInt(wall, 36), Number.parseInt(counter, 36)])
  }
  return out
}

/** Whether `record` holds every write the token names (an absent record covers nothing but an empty token). */
export function covers(record: SessionRecord | undefined, token: VersionToken): boolean {
  if (token.length === 0) return true
  if (!record) return false
  const have = highestPerWriter(record)
  for (const [node, wall, counter] of token) {
    const mine = have.get(node)
    if (!mine || mine[0] < wall || (mine[0] === wall && mine[1] < counter)) return false
  }
  return true
}
