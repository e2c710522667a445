import type { Channel } from '../channel/channel.js'
import type { Clock, TimerHandle } from '../clock/clock.js'
import { systemClock } from '../clock/system-clock.js'
import { TypedEmitter } from '../events.js'
import { type Logger, silentLogger } from '../logger.js'
import { type Address, addressKey, type Member, sameAddress, validateRoute } from '../member.js'
import { Metrics } from '../metrics.js'
import { isConnectionRefused } from '../transport/transport.js'
import type { Discovery } from './discovery.js'
import { FailureDetector, type Verdict } from './failure-detector.js'
import { GossipedAddresses } from './gossip.js'
import type { DiscoveryStatus, LeaveReason, MemberInfo, Membership, MembershipEvents } from './membership.js'
import { type HeartbeatMembershipInit, type MEMBERSHIP_DEFAULTS, newIncarnationId, resolveTimings } from './heartbeat-options.js'
import { type Heartbeat, MAX_GOSSIPED_PEERS, parseHeartbeat, parseMemberId } from './messages.js'

export { type HeartbeatMembershipInit, MEMBERSHIP_DEFAULTS, newIncarnationId } from './heartbeat-options.js'

interface Entry {
  info: MemberInfo
}

/** Addresses of failed incarnations, kept so a one-way peer that keeps sending heartbeats can be re-checked. */
const MAX_FAILED_ADDRESSES = 1_024

/**
 * Membership over the cluster channel, whatever the discovery (Tomcat's StaticMembershipInterceptor made general):
 * heartbeats to every address the discovery reports, failure detection by `FailureDetector` (silence or a reported
 * failure, then a direct check; only an answer clears it), and immediate removal of a member whose port refuses
 * connections (its process is gone). A node that heartbeats us without being a contact is admitted too (frames are
 * authenticated), and heartbeats carry the addresses of the members the sender sees, so a node that knows one
 * member finds them all. A member whose address the discovery stops reporting is checked directly, and removed
 * only if it does not answer: a discovery that blinks (a DNS answer missing a record) never drops a live member.
 */
export function heartbeatMembership(init: HeartbeatMembershipInit): Membership {
  return new HeartbeatMembership(init)
}

class HeartbeatMembership implements Membership {
  readonly #channel: Channel
  readonly #route: string
  readonly #discovery: Discovery
  /** The contacts the discovery reported last (to notice which vanished). */
  #contacts = new Map<string, Address>()
  readonly #opts: typeof MEMBERSHIP_DEFAULTS
  readonly #clock: Clock
  readonly #log: Logger
  readonly #metrics: Metrics
  readonly #events: TypedEmitter<MembershipEvents>
  readonly #detector: FailureDetector
  readonly #byAddress = new Map<string, Entry>()
  readonly #byId = new Map<string, Entry>()
  readonly #failedAddresses = new Map<string, Address>()
  readonly #gossiped: GossipedAddresses
  /** Addresses whose port refused our last connection attempt (no node listens there now). */
  readonly #refused = new Set<string>()
  readonly #id: string
  readonly #startedAt: number
  #ready = false
  #timer?: TimerHandle
  #started = false
  #unsubscribe: Array<() => void> = []
  readonly #plan: string | undefined
  /** Addresses whose heartbeats announce another replication plan (never admitted), with that plan. */
  readonly #otherPlans = new Map<string, string>()

  constructor(init: HeartbeatMembershipInit) {
    this.#channel = init.channel
    this.#route = validateRoute(init.route)
    this.#discovery = init.discovery
    this.#opts = resolveTimings(init)
    this.#id = init.id ?? newIncarnationId()
    this.#plan = init.plan
    this.#clock = init.clock ?? systemClock
    this.#log = init.logger ?? silentLogger
    this.#metrics = init.metrics ?? new Metrics()
    this.#events = new TypedEmitter((error, event) => this.#log.error('membership listener threw', { event, error }))
    this.#startedAt = this.#clock.now()
    // A gossiped address that stays silent that long was a member that left: stop calling it.
    this.#gossiped = new GossipedAddresses(this.#clock, this.#metrics, 2 * this.#opts.suspectTimeoutMs)
    this.#detector = new FailureDetector({
      clock: this.#clock,
      suspectTimeoutMs: this.#opts.suspectTimeoutMs,
      verifyTimeoutMs: this.#opts.verifyTimeoutMs,
      verify: (id, timeoutMs) => this.#verify(id, timeoutMs),
      onSuspect: (id, reason) => this.#setState(id, 'suspect', reason),
      onCleared: (id) => this.#setState(id, 'alive', 'answered a direct check'),
      onFailed: (id, verdict, reason) => {
        const entry = this.#byId.get(id)
        if (entry) this.#remove(entry, verdict === 'replaced' ? 'replaced' : 'failed', `${reason}, then no answer to a direct check`)
      },
    })
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
    const transport = this.#channel.transport
    this.#unsubscribe.push(
      transport.on('peerDown', (peer, error) => this.#onPeerDown(peer, error)),
      transport.on('peerUp', (peer) => void this.#refused.delete(addressKey(peer))),
    )
    try {
      await this.#discovery.start({
        self: this.local,
        clock: this.#clock,
        logger: this.#log,
        metrics: this.#metrics,
        contactsChanged: () => this.#onContactsChanged(),
      })
    } catch (error) {
      // A discovery that cannot work (no multicast route, a bad resolver) is a start-up error, not a lonely node;
      // the cluster port this start opened is closed again.
      this.#started = false
      for (const off of this.#unsubscribe.splice(0)) off()
      await this.#channel.stop()
      throw error
    }
    this.#contacts = this.#currentContacts()
    this.#timer = this.#clock.setInterval(() => this.#tick(), this.#opts.heartbeatIntervalMs)
    this.#heartbeat()
  }

  async stop(): Promise<void> {
    if (!this.#started) return
    this.#started = false
    this.#timer?.cancel()
    for (const off of this.#unsubscribe.splice(0)) off()
    await this.#discovery.stop()
    const targets = this.#targets()
    if (targets.length > 0) await this.#channel.send(targets, { t: 'bye', id: this.#id })
    // Not forgotten by the transport: the goodbye just queued must still leave (the transport drains on stop).
    for (const entry of [...this.#byAddress.values()]) this.#remove(entry, 'left', undefined, { log: false, forget: false })
    this.#gossiped.clear()
  }

  members(): MemberInfo[] {
    return [...this.#byAddress.values()].map((e) => e.info)
  }

  discoveryStatus(): DiscoveryStatus {
    const { kind } = this.#discovery
    return { kind, contacts: [...this.#contacts.keys()].sort(), settled: this.#started && this.#discovery.settled() }
  }

  member(id: string): MemberInfo | undefined {
    return this.#byId.get(id)?.info
  }

  otherPlans(): ReadonlyMap<string, string> {
    return this.#otherPlans
  }

  pendingSeeds(): number {
    if (!this.#started) return 0
    if (!this.#discovery.settled()) return 1
    const self = this.#channel.address
    const unheard = [...this.#contacts.values()].filter((a) => {
      const key = addressKey(a)
      return !sameAddress(a, self) && !this.#byAddress.has(key) && !this.#refused.has(key) && !this.#otherPlans.has(key)
    })
    // A contact that accepts connections may hold sessions, or be starting with us: hear it first. One that refuses
    // has no node behind it yet; when it starts it finds us listening and joins us, so one cluster forms either way.
    return unheard.length
  }

  hasRoute(route: string): boolean {
    if (route === this.#route) return true
    for (const e of this.#byAddress.values()) if (e.info.route === route && e.info.state === 'alive' && e.info.ready) return true
    return false
  }

  setReady(ready: boolean): void {
    if (this.#ready === ready) return
    this.#ready = ready
    if (this.#started) this.#heartbeat()
  }

  suspect(memberId: string, reason: string): void {
    if (this.#started) this.#detector.suspect(memberId, reason)
  }

  on<K extends keyof MembershipEvents>(event: K, listener: MembershipEvents[K]): () => void {
    return this.#events.on(event, listener)
  }

  #currentContacts(): Map<string, Address> {
    return new Map(this.#discovery.contacts().map((a) => [addressKey(a), a]))
  }

  /** New contacts are called at once; a member whose address vanished is checked directly (removed if silent). */
  #onContactsChanged(): void {
    if (!this.#started) return
    const before = this.#contacts
    this.#contacts = this.#currentContacts()
    const fresh = [...this.#contacts].filter(([key]) => !before.has(key) && !this.#byAddress.has(key))
    for (const [key] of before) {
      if (this.#contacts.has(key)) continue
      const entry = this.#byAddress.get(key)
      if (entry) this.#detector.suspect(entry.info.id, `its address vanished from ${this.#discovery.kind} discovery`)
    }
    if (fresh.length > 0) this.#heartbeat()
  }

  #tick(): void {
    this.#gossiped.expire()
    this.#heartbeat()
    this.#detector.tick()
  }

  #heartbeat(): void {
    const { host, port } = this.#channel.address
    const peers = [...this.#byAddress.values()]
      .filter((e) => e.info.state === 'alive')
      .slice(0, MAX_GOSSIPED_PEERS)
      .map((e) => addressKey(e.info.address))
    const hb: Heartbeat = { t: 'hb', id: this.#id, route: this.#route, host, port, startedAt: this.#startedAt, ready: this.#ready, peers }
    if (this.#plan !== undefined) hb.plan = this.#plan
    void this.#channel.send(this.#targets(), hb)
  }

  /** The discovery's contacts plus every member that found us, minus ourselves. */
  #targets(): Address[] {
    const self = this.#channel.address
    const out = new Map<string, Address>()
    for (const [key, a] of this.#contacts) if (!sameAddress(a, self)) out.set(key, a)
    for (const e of this.#byAddress.values()) out.set(addressKey(e.info.address), e.info.address)
    for (const [key, address] of this.#gossiped.entries()) out.set(key, address)
    return [...out.values()]
  }

  #onPeerDown(peer: Address, error: Error | undefined): void {
    const key = addressKey(peer)
    const entry = this.#byAddress.get(key)
    if (isConnectionRefused(error)) {
      this.#refused.add(key)
      // Nothing listens on its cluster port: the process is gone (a live node never closes its listener
      // before saying goodbye). Remove it now, so nobody waits for it and its sessions rebind at once.
      if (entry) this.#remove(entry, 'gone', 'its cluster port refuses connections')
      return
    }
    if (entry) this.#detector.suspect(entry.info.id, 'connection lost')
  }

  #onHeartbeat(hb: Heartbeat, from: Address): void {
    if (!this.#started || hb.id === this.#id) return
    const key = addressKey(from)
    if (hb.plan !== undefined && this.#plan !== undefined && hb.plan !== this.#plan) {
      this.#otherPlan(key, hb)
      return
    }
    this.#otherPlans.delete(key)
    this.#gossiped.heard(key)
    this.#refused.delete(key)
    if (hb.peers) this.#gossiped.learn(hb.peers, this.#channel.address, (peer) => this.#byAddress.has(peer))
    const existing = this.#byAddress.get(key)
    if (existing && existing.info.id !== hb.id) this.#remove(existing, 'replaced', 'a new incarnation answers at its address')
    const current = this.#byAddress.get(key)
    if (current) {
      this.#detector.heard(hb.id)
      const readyChanged = current.info.ready !== hb.ready
      current.info = { ...current.info, ready: hb.ready, lastSeenAt: this.#clock.monotonic() }
      if (readyChanged) this.#events.emit('update', current.info)
      return
    }
    if (this.#detector.hasFailed(hb.id)) {
      // It failed a direct check, yet its heartbeats reach us: a one-way link, or it was paused. Admit it
      // again only once it answers a check over our own path.
      this.#rememberFailedAddress(hb.id, from)
      const { id, route, startedAt, ready } = hb
      this.#events.emit('stray', { id, route, address: from, state: 'suspect', startedAt, ready, lastSeenAt: this.#clock.monotonic() })
      void this.#detector.recheck(hb.id).then((answered) => {
        if (answered && this.#started && !this.#byAddress.has(key)) this.#admit(hb, from)
      })
      return
    }
    this.#admit(hb, from)
  }

  /** A node that replicates differently: never a member (logged once per address and plan, counted every time). */
  #otherPlan(key: string, hb: Heartbeat): void {
    this.#metrics.increment('membership.rejected.plan')
    if (this.#otherPlans.get(key) === hb.plan) return
    this.#otherPlans.set(key, hb.plan!)
    this.#log.error('a node replicates differently and is not admitted: give every node the same manager and backups', {
      peer: key,
      peerRoute: hb.route,
      theirs: hb.plan,
      ours: this.#plan,
    })
    const entry = this.#byAddress.get(key)
    if (entry) this.#remove(entry, 'replaced', 'it replicates differently now')
  }

  #admit(hb: Heartbeat, from: Address): void {
    const key = addressKey(from)
    if (hb.route === this.#route) this.#log.error("another member uses this node's route: sticky routing will be wrong", { route: hb.route, peer: key })
    const info: MemberInfo = {
      id: hb.id,
      route: hb.route,
      address: from,
      state: 'alive',
      startedAt: hb.startedAt,
      ready: hb.ready,
      lastSeenAt: this.#clock.monotonic(),
    }
    const entry = { info }
    this.#byAddress.set(key, entry)
    this.#byId.set(hb.id, entry)
    this.#detector.watch(hb.id)
    this.#metrics.increment('membership.joins')
    this.#log.info('member joined', { route: hb.route, address: key, id: hb.id })
    this.#events.emit('join', info)
    // Answer at once so the newcomer learns about us without waiting a full interval.
    this.#heartbeat()
  }

  #onBye(id: string, from: Address): void {
    const entry = this.#byAddress.get(addressKey(from))
    if (entry && entry.info.id === id) this.#remove(entry, 'left', 'it said goodbye')
  }

  async #verify(id: string, timeoutMs: number): Promise<Verdict> {
    const address = this.#byId.get(id)?.info.address ?? this.#failedAddresses.get(id)
    if (!address) return 'dead'
    try {
      const reply = await this.#channel.request(address, { t: 'ping' }, { timeoutMs })
      return reply.t === 'pong' && parseMemberId(reply) === id ? 'alive' : 'replaced'
    } catch {
      return 'dead'
    }
  }

  #setState(id: string, state: MemberInfo['state'], reason: string): void {
    const entry = this.#byId.get(id)
    if (!entry || entry.info.state === state) return
    entry.info = { ...entry.info, state, ...(state === 'alive' ? { lastSeenAt: this.#clock.monotonic() } : {}) }
    if (state === 'suspect') {
      this.#metrics.increment('membership.suspicions')
      this.#log.warn('member suspected', { route: entry.info.route, address: addressKey(entry.info.address), reason })
      this.#events.emit('suspect', entry.info)
    } else {
      this.#log.info('suspect member is alive', { route: entry.info.route, reason })
      this.#events.emit('alive', entry.info)
    }
  }

  #rememberFailedAddress(id: string, address: Address): void {
    this.#failedAddresses.set(id, address)
    if (this.#failedAddresses.size > MAX_FAILED_ADDRESSES) this.#failedAddresses.delete(this.#failedAddresses.keys().next().value!)
  }

  #remove(entry: Entry, reason: LeaveReason, why?: string, { log = true, forget = true } = {}): void {
    const key = addressKey(entry.info.address)
    if (this.#byAddress.get(key) !== entry) return
    this.#byAddress.delete(key)
    this.#byId.delete(entry.info.id)
    this.#detector.forget(entry.info.id, reason === 'failed')
    if (reason === 'failed') this.#rememberFailedAddress(entry.info.id, entry.info.address)
    // What was queued for it would otherwise wait, and be redialled, forever.
    if (forget && reason !== 'replaced') this.#channel.transport.forget(entry.info.address)
    this.#metrics.increment(`membership.leaves.${reason}`)
    if (log) this.#log.info('member left', { route: entry.info.route, address: key, reason, why })
    this.#events.emit('leave', entry.info, reason)
  }
}
