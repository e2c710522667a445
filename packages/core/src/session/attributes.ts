import { compareStamps, type Stamp } from './hlc.js'
import { detach } from './strings.js'

/** An attribute write in a delta: name, stamp, json (undefined = removed). */
export type AttrWrite = [name: string, stamp: Stamp, json: string | undefined]

/** Three slots per attribute in `AttributeSet`'s index. */
const SLOTS = 3

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

  /** The position of `name`, or -1. */
  find(name: string): number {
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
      if (!max || compareStamps(stamp, max) > 0) max = stamp
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
    const byName = new Map<string, AttrWrite>()
    let added = 0
    for (const write of writes) {
      if (!byName.has(write[0]) && this.find(write[0]) < 0) added++
      byName.set(write[0], write)
    }
    // Sized up front: an array grown by push keeps up to half again its length as spare capacity.
    const index: Array<string | Stamp | number> = new Array((this.size + added) * SLOTS)
    const parts: string[] = []
    let at = 0
    let end = 0
    const put = (name: string, stamp: Stamp, json: string | undefined) => {
      if (json !== undefined) {
        parts.push(json)
        end += json.length
      }
      index[at++] = name
      index[at++] = stamp
      index[at++] = end
    }
    for (let i = 0; i < this.size; i++) {
      const name = this.name(i)
      const write = byName.get(name)
      if (write) {
        byName.delete(name)
        put(name, write[1], write[2])
      } else {
        put(name, this.stamp(i), this.json(i))
      }
    }
    for (const [name, stamp, json] of byName.values()) put(name, stamp, json)
    // join builds one flat string, so no slice of the old text or of a decoded message stays reachable
    // (a single part is returned as it is, hence the detach).
    return new AttributeSet(index, parts.length === 1 ? detach(parts[0]!) : parts.join(''))
  }

  /** The index and text as stored, for encoding a full record (`session/wire-record.ts`). */
  packed(): { index: ReadonlyArray<string | Stamp | number>; text: string } {
    return { index: this.#index, text: this.#text }
  }
}
