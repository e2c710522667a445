import type { Clock } from '../../clock/clock.js'
import { systemClock } from '../../clock/system-clock.js'
import { type Address, addressKey } from '../../member.js'

/** Faults the network injects, each chosen per frame with the network's seeded random source. */
export interface NetworkFaults {
  /** Probability a frame is lost. @default 0 */
  dropRate: number
  /** Probability a frame is delivered twice. @default 0 */
  duplicateRate: number
  /** Extra latency per frame, uniformly chosen in [min, max] ms. @default [0, 0] */
  delayMs: readonly [number, number]
  /** Probability a delayed frame may overtake frames sent before it on the same link. @default 0 */
  reorderRate: number
}

export const NO_FAULTS: NetworkFaults = { dropRate: 0, duplicateRate: 0, delayMs: [0, 0], reorderRate: 0 }

export interface MemoryNetworkInit {
  /** Drives delays; a ManualClock makes delivery deterministic in tests. @default systemClock */
  clock?: Clock
  /** Seed of the fault random source, so a failing run can be replayed. @default 1 */
  seed?: number
  faults?: Partial<NetworkFaults>
  /** Told of every frame delivered, as it is (test observers: which node last heard what from which, and when). */
  onDeliver?: (from: Address, to: Address, frame: Uint8Array) => void
}

/** What a memory transport registers with the network to receive frames. */
export interface MemoryEndpoint {
  readonly address: Address
  receive(from: Address, frame: Uint8Array): void
  /** Our connection to `peer` was reset: frames in flight on it are lost. */
  connectionReset(peer: Address): void
}

/**
 * The wire that in-process nodes share (cf. memberlist's MockNetwork). It delivers asynchronously,
 * in order per link unless faults say otherwise, and can partition the nodes into groups.
 */
export class MemoryNetwork {
  readonly clock: Clock
  #faults: NetworkFaults
  #random: () => number
  readonly #endpoints = new Map<string, MemoryEndpoint>()
  /** Per link (from→to), the time the last frame is due: later frames queue behind it (FIFO). */
  readonly #linkDueAt = new Map<string, number>()
  /** Partition group per address key; frames only pass between equal groups. */
  readonly #groups = new Map<string, number>()
  /** Links (`from>to`) that lose every frame: one-way loss. */
  readonly #cut = new Set<string>()
  /** Per link, bumped by a reset: a frame scheduled under an older generation is lost in flight. */
  readonly #generation = new Map<string, number>()
  /** Paused nodes (a SIGSTOPped process): frames to and from them wait, in order, until resumed. */
  readonly #paused = new Map<string, Array<() => void>>()
  /** Nodes killed by `detachAddress` until a new endpoint attaches at their address. */
  readonly #killed = new Set<string>()
  #delivered = 0
  #dropped = 0
  readonly #onDeliver: MemoryNetworkInit['onDeliver']

  constructor(init: MemoryNetworkInit = {}) {
    this.clock = init.clock ?? systemClock
    this.#onDeliver = init.onDeliver
    this.#faults = { ...NO_FAULTS, ...init.faults }
    this.#random = mulberry32(init.seed ?? 1)
  }

  setFaults(faults: Partial<NetworkFaults>): void {
    this.#faults = { ...this.#faults, ...faults }
  }

  /** Split the network: nodes in different groups cannot reach each other until `heal()`. */
  partition(...groups: Address[][]): void {
    this.#groups.clear()
    groups.forEach((group, index) => {
      for (const address of group) this.#groups.set(addressKey(address), index + 1)
    })
  }

  /** Remove every partition, one-way cut and pause (held frames are delivered). */
  heal(): void {
    this.#groups.clear()
    this.#cut.clear()
    for (const key of [...this.#paused.keys()]) this.#resumeKey(key)
  }

  /** Lose every frame from `from` to `to` (one-way loss) until `heal()` or `restore(from, to)`. */
  cut(from: Address, to: Address): void {
    this.#cut.add(`${addressKey(from)}>${addressKey(to)}`)
  }

  restore(from: Address, to: Address): void {
    this.#cut.delete(`${addressKey(from)}>${addressKey(to)}`)
  }

  /**
   * Reset the connections between `a` and `b` (a TCP RST with data in flight): frames in flight both ways are
   * lost, and both ends see their connection drop.
   */
  reset(a: Address, b: Address): void {
    const ab = `${addressKey(a)}>${addressKey(b)}`
    const ba = `${addressKey(b)}>${addressKey(a)}`
    for (const link of [ab, ba]) {
      this.#generation.set(link, (this.#generation.get(link) ?? 0) + 1)
      this.#linkDueAt.delete(link)
    }
    this.#endpoints.get(addressKey(a))?.connectionReset(b)
    this.#endpoints.get(addressKey(b))?.connectionReset(a)
  }

  /** Freeze a node as SIGSTOP does: nothing it sends leaves and nothing sent to it arrives until `resume`. */
  pause(node: Address): void {
    const key = addressKey(node)
    if (!this.#paused.has(key)) this.#paused.set(key, [])
  }

  resume(node: Address): void {
    this.#resumeKey(addressKey(node))
  }

  #resumeKey(key: string): void {
    const held = this.#paused.get(key)
    this.#paused.delete(key)
    for (const deliver of held ?? []) deliver()
  }

  get stats(): { delivered: number; dropped: number } {
    return { delivered: this.#delivered, dropped: this.#dropped }
  }

  /** @internal used by memory transports */
  attach(endpoint: MemoryEndpoint): void {
    this.#killed.delete(addressKey(endpoint.address))
    this.#endpoints.set(addressKey(endpoint.address), endpoint)
  }

  /** @internal */
  detach(endpoint: MemoryEndpoint): void {
    const key = addressKey(endpoint.address)
    if (this.#endpoints.get(key) === endpoint) this.#endpoints.delete(key)
  }

  /** Take a node off the network at once (a killed process): frames to it are refused, its own go nowhere. */
  detachAddress(address: Address): void {
    this.#endpoints.delete(addressKey(address))
    this.#killed.add(addressKey(address))
  }

  /** @internal */
  isAttached(address: Address): boolean {
    return this.#endpoints.has(addressKey(address))
  }

  /** @internal Put a frame on the wire; returns false when the link is cut (partition or nobody listening). */
  transmit(from: Address, to: Address, frame: Uint8Array): boolean {
    const fromKey = addressKey(from)
    const toKey = addressKey(to)
    if (this.#killed.has(fromKey)) return true
    if ((this.#groups.get(fromKey) ?? 0) !== (this.#groups.get(toKey) ?? 0) || this.#cut.has(`${fromKey}>${toKey}`)) {
      this.#dropped++
      return true // a black hole: the sender cannot tell
    }
    if (!this.#endpoints.has(toKey)) return false
    const f = this.#faults
    if (f.dropRate > 0 && this.#random() < f.dropRate) {
      this.#dropped++
      return true // lost in flight: the sender cannot tell
    }
    const copies = f.duplicateRate > 0 && this.#random() < f.duplicateRate ? 2 : 1
    for (let i = 0; i < copies; i++) this.#schedule(fromKey, toKey, from, frame)
    return true
  }

  #schedule(fromKey: string, toKey: string, from: Address, frame: Uint8Array): void {
    const [min, max] = this.#faults.delayMs
    const delay = max > 0 ? min + this.#random() * (max - min) : 0
    const link = `${fromKey}>${toKey}`
    const generation = this.#generation.get(link) ?? 0
    const now = this.clock.monotonic()
    const overtakes = this.#faults.reorderRate > 0 && this.#random() < this.#faults.reorderRate
    const dueAt = overtakes ? now + delay : Math.max(now + delay, this.#linkDueAt.get(link) ?? 0)
    if (!overtakes) this.#linkDueAt.set(link, dueAt)
    const arrive = () => {
      const endpoint = this.#endpoints.get(toKey)
      // The receiver went away, or the connection was reset, while the frame was in flight.
      if (!endpoint || (this.#generation.get(link) ?? 0) !== generation) return
      this.#delivered++
      this.#onDeliver?.(from, endpoint.address, frame)
      endpoint.receive(from, frame)
    }
    const deliver = () => {
      // A paused sender's frames sit in its socket buffer; a paused receiver's wait in its kernel.
      const held = this.#paused.get(fromKey) ?? this.#paused.get(toKey)
      if (held) held.push(deliver)
      else arrive()
    }
    if (dueAt <= now) setImmediate(deliver)
    else {
      // FIFO among equal due times is kept by the clock's stable timer order.
      this.clock.setTimeout(deliver, dueAt - now)
    }
  }
}

/** Small seeded PRNG so fault schedules are reproducible. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
