import { isIP } from 'node:net'
import type { Clock, TimerHandle } from '../../clock/clock.js'

export interface AdmissionLimits {
  /** Connections that have not introduced themselves (authenticated hello), at most, from all sources together. */
  maxPending: number
  /** Of those, at most this many from one source (an IPv4 address, or an IPv6 /64). */
  maxPendingPerSource: number
  /** A connection that has not introduced itself this long after it was accepted is closed. */
  helloTimeoutMs: number
}

/** Why admission closed a connection: the source's cap, the cap of all sources, or its hello deadline. */
export type AdmissionClose = 'source-cap' | 'evicted' | 'hello-deadline'

interface Waiting {
  source: string
  /** Arrival order. */
  seq: number
  /** Monotonic time by which the hello must have come. */
  deadline: number
}

/**
 * Admission control for connections that have not yet shown they hold the cluster key. Each costs a socket and a
 * few KiB until its hello, which anyone who can reach the port can open, so their number is bounded; the bound
 * must not become a way to keep real peers out:
 * - a newcomer is always let in: when a cap is reached, an older waiting connection is closed instead;
 * - the one closed is the oldest of its own source when that source is over its cap, otherwise the oldest of the
 *   source with the most waiting connections. A peer's connection (one per peer, introduced within a round trip)
 *   is then closed only if every source holds as few as it does: an attacker needs more addresses than the cap,
 *   not more sockets;
 * - every connection has a short deadline for its hello, so an idle socket frees its slot within seconds.
 * Policy only: the transport closes what `close` names, and tells admission when a connection introduced itself
 * or went away (`release`).
 */
export class Admission<C> {
  readonly #limits: AdmissionLimits
  readonly #clock: Clock
  readonly #close: (connection: C, why: AdmissionClose, source: string) => void
  /** In order of arrival: the first is the oldest, and the first to reach its deadline. */
  readonly #waiting = new Map<C, Waiting>()
  /** Source → its waiting connections, in order of arrival. */
  readonly #bySource = new Map<string, Set<C>>()
  #timer: TimerHandle | undefined
  #timerAt = Number.POSITIVE_INFINITY
  #arrivals = 0

  constructor(limits: AdmissionLimits, clock: Clock, close: (connection: C, why: AdmissionClose, source: string) => void) {
    this.#limits = limits
    this.#clock = clock
    this.#close = close
  }

  /** Connections waiting for their hello. */
  get pending(): number {
    return this.#waiting.size
  }

  /** Waiting connections from `source`. */
  pendingFrom(source: string): number {
    return this.#bySource.get(source)?.size ?? 0
  }

  /** A connection was accepted from `source` (see `sourceOf`); it may make an older one close. */
  admit(connection: C, source: string): void {
    this.#waiting.set(connection, { source, seq: this.#arrivals++, deadline: this.#clock.monotonic() + this.#limits.helloTimeoutMs })
    let mine = this.#bySource.get(source)
    if (!mine) this.#bySource.set(source, (mine = new Set()))
    mine.add(connection)
    if (mine.size > this.#limits.maxPendingPerSource) this.#evict(first(mine), 'source-cap')
    else if (this.#waiting.size > this.#limits.maxPending) this.#evict(this.#oldestOfBusiestSource(), 'evicted')
    this.#arm()
  }

  /** The connection introduced itself, or closed: it no longer counts. */
  release(connection: C): void {
    const waiting = this.#waiting.get(connection)
    if (!waiting) return
    this.#waiting.delete(connection)
    const mine = this.#bySource.get(waiting.source)
    mine?.delete(connection)
    if (mine?.size === 0) this.#bySource.delete(waiting.source)
    if (this.#waiting.size === 0) this.#disarm()
  }

  /** Forget every waiting connection and cancel the deadline timer (the transport stops and closes them itself). */
  clear(): void {
    this.#waiting.clear()
    this.#bySource.clear()
    this.#disarm()
  }

  #evict(connection: C, why: AdmissionClose): void {
    const source = this.#waiting.get(connection)!.source
    this.release(connection)
    this.#close(connection, why, source)
  }

  /** The busiest source's oldest connection; between sources equally busy, the one whose oldest came first. */
  #oldestOfBusiestSource(): C {
    let chosen: Set<C> | undefined
    let chosenSeq = 0
    for (const connections of this.#bySource.values()) {
      if (chosen && connections.size < chosen.size) continue
      const seq = this.#waiting.get(first(connections))!.seq
      if (!chosen || connections.size > chosen.size || seq < chosenSeq) {
        chosen = connections
        chosenSeq = seq
      }
    }
    return first(chosen!)
  }

  /** One timer, for the oldest connection's deadline: later arrivals have later deadlines. */
  #arm(): void {
    const oldest = this.#waiting.values().next().value
    if (!oldest) {
      this.#disarm()
      return
    }
    if (this.#timer && this.#timerAt <= oldest.deadline) return
    this.#disarm()
    this.#timerAt = oldest.deadline
    this.#timer = this.#clock.setTimeout(() => this.#expire(), Math.max(0, oldest.deadline - this.#clock.monotonic()))
  }

  #disarm(): void {
    this.#timer?.cancel()
    this.#timer = undefined
    this.#timerAt = Number.POSITIVE_INFINITY
  }

  #expire(): void {
    this.#timer = undefined
    this.#timerAt = Number.POSITIVE_INFINITY
    const now = this.#clock.monotonic()
    for (const [connection, waiting] of this.#waiting) {
      if (waiting.deadline > now) break
      this.#evict(connection, 'hello-deadline')
    }
    this.#arm()
  }
}

function first<C>(connections: Set<C>): C {
  return connections.values().next().value as C
}

/**
 * The source a connection is counted under: its IPv4 address, or the /64 prefix of its IPv6 address (one host
 * commonly holds a whole /64, so counting single IPv6 addresses would bound nothing). IPv4-mapped IPv6
 * addresses count as the IPv4 address.
 */
export function sourceOf(remoteAddress: string | undefined): string {
  if (!remoteAddress) return 'unknown'
  const address = remoteAddress.replace(/%.*$/, '')
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped) return mapped[1]!
  if (isIP(address) !== 6) return address
  const groups = expandIPv6(address)
  return `${groups.slice(0, 4).join(':')}::/64`
}

/** The eight 16-bit groups of an IPv6 address, as lower-case hex without leading zeros. */
function expandIPv6(address: string): string[] {
  let text = address.toLowerCase()
  // A trailing dotted quad (::ffff:1.2.3.4, 64:ff9b::1.2.3.4) is two groups.
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text)
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number]
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head, tail] = text.split('::') as [string, string | undefined]
  const left = head ? head.split(':') : []
  const right = tail ? tail.split(':') : []
  const zeros = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0')
  return [...left, ...zeros, ...right].map((group) => Number.parseInt(group, 16).toString(16))
}
