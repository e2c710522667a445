import type { Clock } from '../clock/clock.js'
import { type Address, addressKey, parseAddress, sameAddress } from '../member.js'
import type { Metrics } from '../metrics.js'

/**
 * Addresses other members told us about (a heartbeat lists the members its sender sees) that we have not heard from
 * yet: they are heartbeated until they answer, and forgotten after `forgetAfterMs` of silence (a member that left),
 * so a node that knows one member finds them all without calling the departed forever.
 */
export class GossipedAddresses {
  readonly #clock: Clock
  readonly #metrics: Metrics
  readonly #forgetAfterMs: number
  /** Address key → the address and when (monotonic) we learned it. */
  readonly #pending = new Map<string, { address: Address; since: number }>()

  constructor(clock: Clock, metrics: Metrics, forgetAfterMs: number) {
    this.#clock = clock
    this.#metrics = metrics
    this.#forgetAfterMs = forgetAfterMs
  }

  /** Take in a heartbeat's peer list; `isMember(key)` tells the addresses already heard from. */
  learn(peers: readonly string[], self: Address, isMember: (key: string) => boolean): void {
    const now = this.#clock.monotonic()
    for (const peer of peers) {
      if (isMember(peer) || this.#pending.has(peer)) continue
      let address: Address
      try {
        address = parseAddress(peer, 'gossiped member')
      } catch {
        this.#metrics.increment('membership.bad-gossip')
        continue
      }
      const key = addressKey(address)
      if (sameAddress(address, self) || isMember(key)) continue
      this.#pending.set(key, { address, since: now })
    }
  }

  /** It answered (or it is known some other way): no longer a rumour. */
  heard(key: string): void {
    this.#pending.delete(key)
  }

  /** Forget the rumours that stayed silent too long. */
  expire(): void {
    const now = this.#clock.monotonic()
    for (const [key, r] of this.#pending) if (now - r.since > this.#forgetAfterMs) this.#pending.delete(key)
  }

  /** Address key and address of every pending rumour. */
  *entries(): IterableIterator<[string, Address]> {
    for (const [key, r] of this.#pending) yield [key, r.address]
  }

  clear(): void {
    this.#pending.clear()
  }
}
