import { maxStamp as higherStamp, type Stamp } from './hlc.js'
import { copyString, detach } from './strings.js'

/** An attribute write in a delta: name, stamp, json (undefined = removed). */
export type AttrWrite = [name: string, stamp: Stamp, json: string | undefined]

/** Three slots per attribute in `AttributeSet`'s index. */
const SLOTS = 3
/** Above this many attributes, lookups go through a name → position map built once per set (merges stay linear). */
const SCAN_LIMIT = 16

/**
 * The parts as one string that keeps none of them alive: join copies two or more into a new flat string,
 * but hands a single part back as it is, and that may be a slice of the old text or of a decoded message.
 */
function joinFlat(parts: readonly string[], onlyPartIsOldText: boolean): string {
  if (parts.length !== 1) return parts.join('')
  // A range of the old text (attributes removed around it) must be copied, or the old text stays reachable.
  return onlyPartIsOldText ? copyString(parts[0]!) : detach(parts[0]!)
}

/**
 * The attributes of one session replica, packed for memory: every node holds every session, so the
 * per-session overhead sizes a cluster. One flat array holds `[name, stamp, end, ...]` per attribute and
 * one string holds the JSON of all attributes back to back; an attribute's JSON is `text.slice(previous
 * end, end)`. An empty range is a removal (a per-attribute tombstone: JSON text is never empty).
 * Compared with a `Map` of `{stamp, json}` entries this saves ~400 bytes per ~1 KiB session, and a state
 * transfer can adopt the decoded index and text as they arrive.
 *
 * Immutable: a merge builds a new set (sessions hold tens of attributes, and a commit already costs a
 * JSON.stringify of the whole session), so a set can be shared freely, e.g. by `recordToDelta`.
 * Lookups scan the names, which for tens of attributes is as fast as hashing.
 */
export class AttributeSet {
  static readonly EMPTY = new AttributeSet([], '')

  readonly #index: ReadonlyArray<string | Stamp | number>
  readonly #text: string
  /** Built on the first lookup of a large set only: most sessions hold a few attributes and never pay for it. */
  #positions: Map<string, number> | undefined

  /**
   * Trusts its input: the index must hold distinct names and non-decreasing ends with the last equal to
   * `text.length`. Peers' data goes through `session/wire-record.ts`, which checks exactly that.
   */
  private constructor(index: ReadonlyArray<string | Stamp | number>, text: string) {
    this.#index = index
    this.#text = text
  }

  /** Adopt a checked index and text (see the constructor's contract). */
  static fromPacked(index: Array<string | Stamp | number>, text: string): AttributeSet {
    return index.length === 0 ? AttributeSet.EMPTY : new AttributeSet(index, text)
  }

  /** Entries, removals included. */
  get size(): number {
    return this.#index.length / SLOTS
  }

  /** Total JSON characters of the live attributes. */
  get textLength(): number {
    return this.#text.length
  }

  name(i: number): string {
    return this.#index[i * SLOTS] as string
  }

  stamp(i: number): Stamp {
    return this.#index[i * SLOTS + 1] as Stamp
  }

  /** The JSON of entry `i`, undefined for a removal. */
  json(i: number): string | undefined {
    const end = this.#index[i * SLOTS + 2] as number
    const start = i === 0 ? 0 : (this.#index[i * SLOTS - 1] as number)
    return end === start ? undefined : this.#text.slice(start, end)
  }

  /** Whether entry `i` is a removal (cheaper than `json(i) === undefined`: no slice). */
  isRemoval(i: number): boolean {
    const end = this.#index[i * SLOTS + 2] as number
    return end === (i === 0 ? 0 : (this.#index[i * SLOTS - 1] as number))
  }

  /** The position of `name`, or -1. */
  find(name: string): number {
    const index = this.#index
    if (index.length > SCAN_LIMIT * SLOTS) {
      if (!this.#positions) {
        const positions = new Map<string, number>()
        for (let i = 0; i < index.length; i += SLOTS) positions.set(index[i] as string, i / SLOTS)
        this.#positions = positions
      }
      return this.#positions.get(name) ?? -1
    }
    for (let i = 0; i < index.length; i += SLOTS) if (index[i] === name) return i / SLOTS
    return -1
  }

  /** The position of `name`, or -1, by a plain scan: builds no lookup map (for a set a record keeps, looked up once). */
  scan(name: string): number {
    const index = this.#index
    for (let i = 0; i < index.length; i += SLOTS) if (index[i] === name) return i / SLOTS
    return -1
  }

  forEach(visit: (name: string, stamp: Stamp, json: string | undefined) => void): void {
    for (let i = 0; i < this.size; i++) visit(this.name(i), this.stamp(i), this.json(i))
  }

  /** The highest stamp of any entry (undefined when empty): what a receiver's clock must order after. */
  maxStamp(): Stamp | undefined {
    let max: Stamp | undefined
    for (let i = 1; i < this.#index.length; i += SLOTS) {
      const stamp = this.#index[i] as Stamp
      max = max ? higherStamp(max, stamp) : stamp
    }
    return max
  }

  toWrites(): AttrWrite[] {
    const writes: AttrWrite[] = []
    for (let i = 0; i < this.size; i++) writes.push([this.name(i), this.stamp(i), this.json(i)])
    return writes
  }

  /**
   * A new set with `writes` replacing the entries of the same name (appended when new). The caller has
   * decided they win; names must be distinct within `writes`.
   */
  withWrites(writes: readonly AttrWrite[]): AttributeSet {
    if (writes.length === 0) return this
    const size = this.size
    const replacing: Array<AttrWrite | undefined> = new Array(size)
    const appended: AttrWrite[] = []
    for (const write of writes) {
      const at = this.find(write[0])
      if (at >= 0) replacing[at] = write
      else appended.push(write)
    }
    // Sized up front: an array grown by push keeps up to half again its length as spare capacity.
    const index: Array<string | Stamp | number> = new Array((size + appended.length) * SLOTS)
    // Unchanged neighbours are copied as one range of the old text, so a commit that changes one attribute
    // joins three strings, not one per attribute.
    const parts: string[] = []
    let oldTextParts = 0
    const keepOldText = (from: number, to: number) => {
      parts.push(this.#text.slice(from, to))
      oldTextParts++
    }
    let unchangedFrom = 0
    let end = 0
    for (let i = 0; i < size; i++) {
      const oldStart = i === 0 ? 0 : (this.#index[i * SLOTS - 1] as number)
      const oldEnd = this.#index[i * SLOTS + 2] as number
      const write = replacing[i]
      let stamp = this.#index[i * SLOTS + 1] as Stamp
      if (write) {
        if (oldStart > unchangedFrom) keepOldText(unchangedFrom, oldStart)
        unchangedFrom = oldEnd
        stamp = write[1]
        if (write[2] !== undefined) parts.push(write[2])
        end += write[2]?.length ?? 0
      } else {
        end += oldEnd - oldStart
      }
      index[i * SLOTS] = this.#index[i * SLOTS]!
      index[i * SLOTS + 1] = stamp
      index[i * SLOTS + 2] = end
    }
    if (this.#text.length > unchangedFrom) keepOldText(unchangedFrom, this.#text.length)
    let at = size * SLOTS
    for (const [name, stamp, json] of appended) {
      if (json !== undefined) parts.push(json)
      end += json?.length ?? 0
      index[at++] = name
      index[at++] = stamp
      index[at++] = end
    }
    return new AttributeSet(index, joinFlat(parts, oldTextParts === 1))
  }

  /** The index and text as stored, for encoding a full record (`session/wire-record.ts`). */
  packed(): { index: ReadonlyArray<string | Stamp | number>; text: string } {
    return { index: this.#index, text: this.#text }
  }
}
