import { createSocket, type Socket } from 'node:dgram'
import { isIP } from 'node:net'
import type { TimerHandle } from '../../clock/clock.js'
import { deriveClusterKey } from '../../crypto/keys.js'
import { DiscoveryUnavailableError, InvalidParametersError } from '../../errors.js'
import { type Address, addressKey, validatePort } from '../../member.js'
import { describeValue } from '../../option-checks.js'
import { ThrottledWarning } from '../../throttled-warning.js'
import type { Discovery, DiscoveryContext } from '../discovery.js'
import { announcementKey, decodeAnnouncement, encodeAnnouncement } from './announcement.js'

export interface MulticastDiscoveryInit {
  /** Multicast group. @default '228.0.0.4' (Tomcat's) */
  address?: string
  /** UDP port of the group. @default 45564 */
  port?: number
  /** Local address of the interface to announce on. @default this node's cluster host */
  interface?: string
  /** Hops an announcement may cross (1: this subnet). @default 1 */
  ttl?: number
  /** How often this node announces itself (Tomcat's frequency). @default 500 */
  frequencyMs?: number
  /** A member not announced for this long is no longer a contact, and is checked directly (Tomcat's dropTime). @default 3000 */
  dropTimeMs?: number
  /** Announcements are signed with a key derived from the first, checked against all (a rotation). None: loopback only. */
  secrets: readonly string[] | undefined
  /** Announced in the clear: another cluster on the same group is ignored. */
  clusterName: string
}

export const MULTICAST_DISCOVERY_DEFAULTS = { address: '228.0.0.4', port: 45564, ttl: 1, frequencyMs: 500, dropTimeMs: 3_000 } as const

type MulticastOptions = { address: string; port: number; ttl: number; frequencyMs: number; dropTimeMs: number; interface?: string }

/**
 * Members from UDP multicast announcements (Tomcat's McastService): every node announces its cluster address every
 * `frequencyMs` on the group; an address not announced for `dropTimeMs` stops being a contact, and its member is
 * checked directly over TCP (removed only if it does not answer). Announcements carry an HMAC with a key derived
 * from the cluster secret; a bad one is counted (`discovery.multicast.rejected`) and logged, and another cluster's
 * (another cluster name) is ignored. Multicast rarely crosses a cloud network or Kubernetes: use DNS there.
 */
export function multicastDiscovery(init: MulticastDiscoveryInit): Discovery {
  return new MulticastDiscovery(init)
}

class MulticastDiscovery implements Discovery {
  readonly kind = 'multicast'
  readonly #opts: MulticastOptions
  readonly #clusterName: string
  readonly #keys: Buffer[]
  #context?: DiscoveryContext
  #socket?: Socket
  #timer?: TimerHandle
  /** Address key → the address and when (monotonic) it was last announced. */
  #heard = new Map<string, { address: Address; at: number }>()
  #startedAt = 0
  #rejections?: ThrottledWarning

  constructor(init: MulticastDiscoveryInit) {
    this.#opts = { ...MULTICAST_DISCOVERY_DEFAULTS, ...definedOnly(init) } as MulticastOptions
    const { address, port, ttl, frequencyMs, dropTimeMs } = this.#opts
    if (isIP(address) !== 4 || Number(address.split('.')[0]) < 224 || Number(address.split('.')[0]) > 239) {
      throw new InvalidParametersError(`multicast address must be an IPv4 multicast group (224.0.0.0-239.255.255.255), got ${describeValue(address)}`)
    }
    validatePort(port, 'multicast port', { allowZero: false })
    if (this.#opts.interface !== undefined && isIP(this.#opts.interface) !== 4) {
      throw new InvalidParametersError(`multicast interface must be the IPv4 address of a local interface, got ${describeValue(this.#opts.interface)}`)
    }
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 255) throw new InvalidParametersError(`multicast ttl must be 1-255, got ${describeValue(ttl)}`)
    for (const [name, value] of Object.entries({ frequencyMs, dropTimeMs })) {
      if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
        throw new InvalidParametersError(`multicast ${name} must be a positive number of milliseconds, got ${describeValue(value)}`)
      }
    }
    if (dropTimeMs <= 2 * frequencyMs) throw new InvalidParametersError('multicast dropTimeMs must be more than twice frequencyMs')
    this.#clusterName = init.clusterName
    const clusterKeys = init.secrets?.map((secret) => deriveClusterKey(secret, init.clusterName))
    this.#keys = clusterKeys ? clusterKeys.map((key) => announcementKey(key)) : [announcementKey(undefined)]
  }

  async start(context: DiscoveryContext): Promise<void> {
    if (this.#socket) return
    this.#context = context
    this.#rejections = new ThrottledWarning(context.logger, context.clock, 'multicast announcements rejected')
    const iface = this.#opts.interface ?? defaultInterface(context.self.address.host)
    const socket = createSocket({ type: 'udp4', reuseAddr: true })
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject)
        socket.bind(this.#opts.port, () => {
          socket.off('error', reject)
          resolve()
        })
      })
      socket.addMembership(this.#opts.address, iface)
      if (iface) socket.setMulticastInterface(iface)
      socket.setMulticastTTL(this.#opts.ttl)
      socket.setMulticastLoopback(true) // nodes on one host (and tests) hear each other
      await new Promise<void>((resolve, reject) => socket.send(this.#announcement(), this.#opts.port, this.#opts.address, (e) => (e ? reject(e) : resolve())))
    } catch (error) {
      socket.close()
      const code = (error as NodeJS.ErrnoException).code
      throw new DiscoveryUnavailableError(
        `multicast discovery cannot use group ${this.#opts.address}:${this.#opts.port} on interface ${iface ?? 'default'} (${code ?? (error as Error).message}): ` +
          'the interface has no multicast, or no route to the group (set `interface`, or use dns or static discovery)',
        { cause: error },
      )
    }
    socket.on('message', (datagram) => this.#onDatagram(datagram))
    socket.on('error', (error) => context.logger.error('multicast socket error', { error }))
    this.#socket = socket
    this.#startedAt = context.clock.monotonic()
    this.#timer = context.clock.setInterval(() => this.#tick(), this.#opts.frequencyMs)
  }

  async stop(): Promise<void> {
    this.#timer?.cancel()
    const socket = this.#socket
    this.#socket = undefined
    this.#rejections?.flush()
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()))
  }

  contacts(): readonly Address[] {
    return [...this.#heard.values()].map((h) => h.address)
  }

  /** Every live member announced itself a few times since we listen. */
  settled(): boolean {
    return this.#context !== undefined && this.#context.clock.monotonic() - this.#startedAt >= 3 * this.#opts.frequencyMs
  }

  #announcement(): Buffer {
    const { self } = this.#context!
    return encodeAnnouncement({ clusterName: this.#clusterName, id: self.id, route: self.route, address: self.address }, this.#keys[0]!)
  }

  #tick(): void {
    const context = this.#context!
    this.#socket?.send(this.#announcement(), this.#opts.port, this.#opts.address, (error) => {
      if (error) context.metrics.increment('discovery.multicast.send-failures')
    })
    const now = context.clock.monotonic()
    let dropped = false
    for (const [key, h] of this.#heard) {
      if (now - h.at > this.#opts.dropTimeMs) {
        this.#heard.delete(key)
        dropped = true
      }
    }
    if (dropped) context.contactsChanged()
  }

  #onDatagram(datagram: Buffer): void {
    const context = this.#context!
    const { metrics } = context
    let decoded: ReturnType<typeof decodeAnnouncement>
    try {
      decoded = decodeAnnouncement(datagram, this.#clusterName, this.#keys)
    } catch (error) {
      metrics.increment('discovery.multicast.malformed')
      this.#rejections?.note('malformed', { error })
      return
    }
    if (decoded.kind === 'other-cluster') {
      metrics.increment('discovery.multicast.other-cluster')
      return
    }
    if (decoded.kind === 'unauthenticated') {
      // Our cluster's name, a bad HMAC: a node with another secret, or a forger.
      metrics.increment('discovery.multicast.rejected')
      this.#rejections?.note('wrong-secret', { clusterName: decoded.clusterName })
      return
    }
    const { address, id } = decoded.announcement
    if (id === context.self.id) return
    metrics.increment('discovery.multicast.announcements')
    const key = addressKey(address)
    const known = this.#heard.has(key)
    this.#heard.set(key, { address, at: context.clock.monotonic() })
    if (!known) context.contactsChanged()
  }
}

/** The interface of the cluster host when it names one (not 0.0.0.0 nor a hostname). */
function defaultInterface(host: string): string | undefined {
  return isIP(host) === 4 && host !== '0.0.0.0' ? host : undefined
}

function definedOnly<T extends object>(init: T): Partial<T> {
  return Object.fromEntries(Object.entries(init).filter(([k, v]) => v !== undefined && k !== 'secrets' && k !== 'clusterName')) as Partial<T>
}
