import { randomBytes } from 'node:crypto'
import type { Channel } from '../../channel/channel.js'
import type { Clock, TimerHandle } from '../../clock/clock.js'
import { systemClock } from '../../clock/system-clock.js'
import { InvalidParametersError } from '../../errors.js'
import { TypedEmitter } from '../../events.js'
import { type Logger, silentLogger } from '../../logger.js'
import { type Address, type Member, addressKey, parseAddress, sameAddress, validateRoute } from '../../member.js'
import { Metrics } from '../../metrics.js'
import type { LeaveReason, MemberInfo, Membership, MembershipEvents } from '../membership.js'
import { type Heartbeat, MAX_GOSSIPED_PEERS, parseHeartbeat, parseMemberId } from '../messages.js'

export interface StaticMembershipInit {
  channel: Channel
  /** This node's route name. */
  route: string
  /** `host:port` of the other nodes (Tomcat's StaticMember list). This node's own entry is ignored. @default [] */
  members?: ReadonlyArray<string | Address>
  /** How often to announce ourselves to every member. @default 500 */
  heartbeatIntervalMs?: number
  /** Silence after which a member is suspected and verified directly (Tomcat's dropTime). @default 3000 */
  suspectTimeoutMs?: number
  /** How long the direct verification of a suspect may take before it is removed. @default 1000 */
  verifyTimeoutMs?: number
  clock?: Clock
  logger?: Logger
  metrics?: Metrics
}

export const STATIC_MEMBERSHIP_DEFAULTS = {
  heartbeatIntervalMs: 500,
  suspectTimeoutMs: 3_000,
  verifyTimeoutMs: 1_000,
} as const

interface Entry {
  info: MemberInfo
  verifying: boolean
}

/**
 * Membership from a configured list (Tomcat's StaticMembershipInterceptor + TcpFailureDetector):
 * heartbeats to every listed address, suspicion after silence or a reported failure, a direct ping to
 * verify, removal if that fails, rejoin on the next heartbeat. A node that heartbeats us without being
 * listed is admitted too (frames are authenticated), and heartbeats carry the addresses of the members the
 * sender sees, so a node that lists one member finds them all: nodes can be added without reconfiguring the rest.
 */
export function staticMembership(init: StaticMembershipInit): Membership {
  return new StaticMembership(init)
}

class StaticMembership implements Membership {
  readonly #channel: Channel
  readonly #route: string
  readonly #seeds: Address[]
  readonly #opts: typeof STATIC_MEMBERSHIP_DEFAULTS
  readonly #clock: Clock
  readonly #log: Logger
  readonly #metrics: Metrics
  readonly #events: TypedEmitter<MembershipEvents>
  readonly #byAddress = new Map<string, Entry>()
  /** Addresses other members told us about that we have not heard from yet, with when we learned them. */
  readonly #rumoured = new Map<string, { address: Address; since: number }>()
  readonly #id = randomBytes(12).toString('base64url')
  readonly #startedAt: number
  #ready = false
  #timer?: TimerHandle
  #started = false
  #unsubscribe: Array<() => void> = []

  constructor(init: StaticMembershipInit) {
    this.#channel = init.channel
    this.#route = validateRoute(init.route)
    this.#seeds = (init.members ?? []).map((m) => parseAddress(m, 'cluster member'))
    this.#opts = { ...STATIC_MEMBERSHIP_DEFAULTS, ...definedOnly(init) }
    for (const [key, value] of Object.entries(this.#opts)) {
      if (!Number.isFinite(value) || value <= 0) throw new InvalidParametersError(`${key} must be a positive number of milliseconds`)
    }
    if (this.#opts.suspectTimeoutMs <= this.#opts.heartbeatIntervalMs) {
      throw new InvalidParametersError('suspectTimeoutMs must be longer than heartbeatIntervalMs')
    }
    this.#clock = init.clock ?? systemClock
    this.#log = init.logger ?? silentLogger
    this.#metrics = init.metrics ?? new Metrics()
    this.#events = new TypedEmitter((error, event) => this.#log.error('membership listener threw', { event, error }))
    this.#startedAt = this.#clock.now()
    this.#channel.handle('hb', (m, { from }) => this.#onHeartbeat(parseHeartbeat(m), from))
    this.#channel.handle('bye', (m, { from }) => this.#onBye(parseMemberId(m), from))
    this.#channel.handleRequest('ping', () => ({ t: 'pong', id: this.#id }))
  }

  get local(): Member {
    return { id: this.#id, route: this.#route, address: this.#channel.address }
  }

  async start(): Promise<void> {
    if (this.#started) return
    await this.#channel.start()
    this.#started = true
    this.#unsubscribe.push(
      this.#channel.transport.on('peerDown', (peer) => {
        const entry = this.#byAddress.get(addressKey(peer))
        if (entry) this.#suspect(entry, 'connection lost')
      }),
    )
    this.#timer = this.#clock.setInterval(() => this.#tick(), this.#opts.heartbeatIntervalMs)
    this.#heartbeat()
  }

  async stop(): Promise<void> {
    if (!this.#started) return
    this.#started = false
    this.#timer?.cancel()
    for (const off of this.#unsubscribe.splice(0)) off()
    const targets = this.#targets()
    if (targets.length > 0) await this.#channel.send(targets, { t: 'bye', id: this.#id })
    // Not forgotten by the transport: the goodbye just queued must still leave (the transport drains on stop).
    for (const entry of [...this.#byAddress.values()]) this.#remove(entry, 'left', { log: false, forget: false })
    this.#rumoured.clear()
  }

  members(): MemberInfo[] {
    return [...this.#byAddress.values()].map((e) => e.info)
  }

  pendingSeeds(): number {
    const self = this.#channel.address
    return this.#seeds.filter((a) => !sameAddress(a, self) && !this.#byAddress.has(addressKey(a))).length
  }

  hasRoute(route: string): boolean {
    if (route === this.#route) return true
    for (const e of this.#byAddress.values()) if (e.info.route === route) return true
    return false
  }

  setReady(ready: boolean): void {
    if (this.#ready === ready) return
    this.#ready = ready
    if (this.#started) this.#heartbeat()
  }

  suspect(memberId: string, reason: string): void {
    for (const entry of this.#byAddress.values()) if (entry.info.id === memberId) this.#suspect(entry, reason)
  }

  on<K extends keyof MembershipEvents>(event: K, listener: MembershipEvents[K]): () => void {
    return this.#events.on(event, listener)
  }

  #tick(): void {
    const now = this.#clock.now()
    for (const [key, r] of this.#rumoured) {
      // A gossiped address that stays silent was a member that left: stop calling it.
      if (now - r.since > 2 * this.#opts.suspectTimeoutMs) this.#rumoured.delete(key)
    }
    this.#heartbeat()
    for (const entry of this.#byAddress.values()) {
      if (now - entry.info.lastSeenAt > this.#opts.suspectTimeoutMs) this.#suspect(entry, 'no heartbeat')
    }
  }

  #heartbeat(): void {
    const { host, port } = this.#channel.address
    const peers = [...this.#byAddress.values()]
      .filter((e) => e.info.state === 'alive')
      .slice(0, MAX_GOSSIPED_PEERS)
      .map((e) => addressKey(e.info.address))
    const hb: Heartbeat = { t: 'hb', id: this.#id, route: this.#route, host, port, startedAt: this.#startedAt, ready: this.#ready, peers }
    void this.#channel.send(this.#targets(), hb)
  }

  /** Listed seeds plus every member that found us, minus ourselves. */
  #targets(): Address[] {
    const self = this.#channel.address
    const out = new Map<string, Address>()
    for (const a of this.#seeds) if (!sameAddress(a, self)) out.set(addressKey(a), a)
    for (const e of this.#byAddress.values()) out.set(addressKey(e.info.address), e.info.address)
    for (const [key, r] of this.#rumoured) out.set(key, r.address)
    return [...out.values()]
  }

  #onHeartbeat(hb: Heartbeat, from: Address): void {
    if (!this.#started) return
    if (hb.id === this.#id) return
    const key = addressKey(from)
    const existing = this.#byAddress.get(key)
    const now = this.#clock.now()
    this.#rumoured.delete(key)
    if (hb.peers) this.#learn(hb.peers, now)
    if (existing && existing.info.id !== hb.id) this.#remove(existing, 'replaced')
    const current = this.#byAddress.get(key)
    if (!current) {
      if (hb.route === this.#route) this.#log.error('another member uses this node\'s route: sticky routing will be wrong', { route: hb.route, peer: key })
      const info: MemberInfo = { id: hb.id, route: hb.route, address: from, state: 'alive', startedAt: hb.startedAt, ready: hb.ready, lastSeenAt: now }
      this.#byAddress.set(key, { info, verifying: false })
      this.#metrics.increment('membership.joins')
      this.#log.info('member joined', { route: hb.route, address: key, id: hb.id })
      this.#events.emit('join', info)
      // Answer at once so the newcomer learns about us without waiting a full interval.
      this.#heartbeat()
      return
    }
    const wasSuspect = current.info.state === 'suspect'
    const readyChanged = current.info.ready !== hb.ready
    current.info = { ...current.info, state: 'alive', ready: hb.ready, lastSeenAt: now }
    if (wasSuspect && !current.verifying) this.#cleared(current)
    if (readyChanged) this.#events.emit('update', current.info)
  }

  /** Heartbeat addresses a member gossiped, until they answer (or for a while, if they never do). */
  #learn(peers: string[], now: number): void {
    const self = this.#channel.address
    for (const peer of peers) {
      if (this.#byAddress.has(peer) || this.#rumoured.has(peer)) continue
      let address: Address
      try {
        address = parseAddress(peer, 'gossiped member')
      } catch {
        this.#metrics.increment('membership.bad-gossip')
        continue
      }
      if (sameAddress(address, self) || this.#byAddress.has(addressKey(address))) continue
      this.#rumoured.set(addressKey(address), { address, since: now })
    }
  }

  #onBye(id: string, from: Address): void {
    const entry = this.#byAddress.get(addressKey(from))
    if (entry && entry.info.id === id) this.#remove(entry, 'left')
  }

  #suspect(entry: Entry, reason: string): void {
    if (!this.#started || entry.verifying) return
    if (entry.info.state !== 'suspect') {
      entry.info = { ...entry.info, state: 'suspect' }
      this.#metrics.increment('membership.suspicions')
      this.#log.warn('member suspected', { route: entry.info.route, address: addressKey(entry.info.address), reason })
      this.#events.emit('suspect', entry.info)
    }
    entry.verifying = true
    const { id, address } = entry.info
    const verifyingSince = this.#clock.now()
    this.#channel
      .request(address, { t: 'ping' }, { timeoutMs: this.#opts.verifyTimeoutMs })
      .then((reply) => (reply.t === 'pong' && parseMemberId(reply) === id ? 'alive' : 'replaced'))
      .catch(() => 'dead' as const)
      .then((verdict) => {
        entry.verifying = false
        if (this.#byAddress.get(addressKey(address)) !== entry || !this.#started) return
        // A heartbeat that arrived during the check proves it alive even if the ping got lost (one-way loss).
        if (verdict === 'alive' || entry.info.lastSeenAt > verifyingSince) {
          entry.info = { ...entry.info, lastSeenAt: this.#clock.now() }
          this.#cleared(entry)
        } else this.#remove(entry, verdict === 'replaced' ? 'replaced' : 'failed')
      })
  }

  #cleared(entry: Entry): void {
    entry.info = { ...entry.info, state: 'alive' }
    this.#log.info('suspect member is alive', { route: entry.info.route })
    this.#events.emit('alive', entry.info)
  }

  #remove(entry: Entry, reason: LeaveReason, { log = true, forget = true } = {}): void {
    const key = addressKey(entry.info.address)
    if (this.#byAddress.get(key) !== entry) return
    this.#byAddress.delete(key)
    // What was queued for it (replication while it was suspect) would otherwise wait, and be redialled, forever.
    if (forget && reason !== 'replaced') this.#channel.transport.forget(entry.info.address)
    this.#metrics.increment(`membership.leaves.${reason}`)
    if (log) this.#log.info('member left', { route: entry.info.route, address: key, reason })
    this.#events.emit('leave', entry.info, reason)
  }
}

function definedOnly(init: StaticMembershipInit): Partial<typeof STATIC_MEMBERSHIP_DEFAULTS> {
  const out: Record<string, number> = {}
  for (const key of Object.keys(STATIC_MEMBERSHIP_DEFAULTS) as Array<keyof typeof STATIC_MEMBERSHIP_DEFAULTS>) {
    if (init[key] !== undefined) out[key] = init[key]
  }
  return out
}
