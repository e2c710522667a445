import type { Resolver } from 'node:dns/promises'
import { isIP } from 'node:net'
import type { TimerHandle } from '../../clock/clock.js'
import { InvalidParametersError } from '../../errors.js'
import { type Address, addressKey, validateHost, validatePort } from '../../member.js'
import { describeValue } from '../../option-checks.js'
import type { Discovery, DiscoveryContext } from '../discovery.js'
import { makeResolver, resolveMembers } from './resolve.js'

export interface DnsDiscoveryInit {
  /** The name to resolve: a Kubernetes headless service, e.g. `shop-cluster.shop.svc.cluster.local`. */
  name: string
  /** Cluster port of the members at the resolved addresses. @default this node's own cluster port */
  port?: number
  /** Resolve `name` as SRV records (e.g. `_cluster._tcp.shop-cluster.shop.svc.cluster.local`), the port from each. @default false */
  srv?: boolean
  /** How often the name is resolved again. @default 5000 */
  intervalMs?: number
  /** Resolver servers (`ip` or `ip:port`). @default the system's resolvers */
  servers?: readonly string[]
  /** One lookup's timeout. @default 2000 */
  timeoutMs?: number
  /**
   * Successful answers in a row that must agree before a starting node trusts them (Akka's stable contact points):
   * pods that start together appear in the service one by one. They are asked `settleIntervalMs` apart. @default 3
   */
  stableAnswers?: number
  /** Pause between the answers a starting node compares. @default 1000 */
  settleIntervalMs?: number
}

export const DNS_DISCOVERY_DEFAULTS = { srv: false, intervalMs: 5_000, timeoutMs: 2_000, stableAnswers: 3, settleIntervalMs: 1_000 } as const

/**
 * Members from DNS (a Kubernetes headless service lists one A/AAAA record per pod). The name is resolved every
 * `intervalMs`: new addresses are called at once; a member whose address vanished is checked directly and removed
 * if it does not answer. A failed lookup changes nothing (a DNS outage must not empty the cluster). A starting node
 * waits for `stableAnswers` equal answers, then for every address that accepts connections to answer, so pods that
 * start together all join one cluster. Set `publishNotReadyAddresses: true` on the service: a pod is not
 * ready before it joined, and pods that start together must see each other before any is ready (without it, each
 * sees an empty service and starts alone; they merge once ready, but sessions created meanwhile stay where made
 * until then).
 *
 * @example
 * createSessionCluster({ route, host: podIp, secret, discovery: { kind: 'dns', name: 'shop-cluster.shop.svc.cluster.local' } })
 */
export function dnsDiscovery(init: DnsDiscoveryInit): Discovery {
  return new DnsDiscovery(init)
}

class DnsDiscovery implements Discovery {
  readonly kind = 'dns'
  readonly #name: string
  readonly #port: number | undefined
  readonly #opts: typeof DNS_DISCOVERY_DEFAULTS
  readonly #resolver: Resolver
  #context?: DiscoveryContext
  #found = new Map<string, Address>()
  #agreeing = 0
  #settled = false
  #timer?: TimerHandle
  #running = false
  #resolving = false
  #failing = false

  constructor(init: DnsDiscoveryInit) {
    if (init === null || typeof init !== 'object') throw new InvalidParametersError(`dns discovery options must be an object, got ${describeValue(init)}`)
    const name = init.srv ? init.name?.replace(/^(_[A-Za-z0-9-]+\.)+/, '') : init.name
    if (typeof init.name !== 'string' || (!isIP(init.name) && !validHostname(name))) {
      throw new InvalidParametersError(`dns discovery name must be a DNS name (a Kubernetes headless service), got ${describeValue(init.name)}`)
    }
    this.#name = init.name
    this.#port = init.port === undefined ? undefined : validatePort(init.port, 'dns discovery port', { allowZero: false })
    this.#opts = { ...DNS_DISCOVERY_DEFAULTS, ...definedOnly(init) } as typeof DNS_DISCOVERY_DEFAULTS
    for (const key of ['intervalMs', 'timeoutMs', 'settleIntervalMs'] as const) {
      const value = this.#opts[key]
      if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
        throw new InvalidParametersError(`dns discovery ${key} must be a positive number of milliseconds, got ${describeValue(value)}`)
      }
    }
    if (!Number.isInteger(this.#opts.stableAnswers) || this.#opts.stableAnswers < 1) {
      throw new InvalidParametersError(`dns discovery stableAnswers must be a whole number from 1, got ${describeValue(this.#opts.stableAnswers)}`)
    }
    if (init.servers !== undefined && (!Array.isArray(init.servers) || init.servers.some((s) => typeof s !== 'string' || !validServer(s)))) {
      throw new InvalidParametersError(`dns discovery servers must be IP addresses, each with an optional :port, got ${describeValue(init.servers)}`)
    }
    this.#resolver = makeResolver(init.servers, this.#opts.timeoutMs)
  }

  async start(context: DiscoveryContext): Promise<void> {
    if (this.#running) return
    this.#running = true
    this.#context = context
    await this.#resolve()
    this.#schedule()
  }

  async stop(): Promise<void> {
    this.#running = false
    this.#timer?.cancel()
    this.#resolver.cancel()
  }

  contacts(): readonly Address[] {
    return [...this.#found.values()]
  }

  /** Once settled, settled for good: the stable answer only guards a starting node's first decision. */
  settled(): boolean {
    return this.#settled
  }

  /** Quickly while settling, then every intervalMs. */
  #schedule(): void {
    if (!this.#running || !this.#context) return
    const delay = this.settled() ? this.#opts.intervalMs : this.#opts.settleIntervalMs
    this.#timer = this.#context.clock.setTimeout(() => {
      void this.#resolve().then(() => this.#schedule())
    }, delay)
  }

  async #resolve(): Promise<void> {
    const context = this.#context
    if (!context || this.#resolving) return
    this.#resolving = true
    try {
      const port = this.#port ?? context.self.address.port
      const answer = await resolveMembers(this.#resolver, this.#name, { port, srv: this.#opts.srv })
      if (!this.#running) return
      if (this.#failing) context.logger.info('dns discovery resolves again', { name: this.#name })
      this.#failing = false
      const found = new Map(answer.map((a) => [addressKey(a), a]))
      const changed = found.size !== this.#found.size || [...found.keys()].some((key) => !this.#found.has(key))
      this.#agreeing = changed ? 1 : this.#agreeing + 1
      if (this.#agreeing >= this.#opts.stableAnswers) this.#settled = true
      this.#found = found
      context.metrics.increment('discovery.dns.lookups')
      if (changed) context.contactsChanged()
    } catch (error) {
      if (!this.#running) return
      context.metrics.increment('discovery.dns.failures')
      if (!this.#failing) context.logger.warn('dns discovery lookup failed; keeping the members found before', { name: this.#name, error })
      this.#failing = true
    } finally {
      this.#resolving = false
    }
  }
}

function validHostname(name: string | undefined): boolean {
  try {
    validateHost(name?.replace(/\.$/, ''))
    return true
  } catch {
    return false
  }
}

function validServer(server: string): boolean {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(server) ?? /^([^:]+):(\d{1,5})$/.exec(server)
  return m ? isIP(m[1]!) !== 0 && Number(m[2]) > 0 && Number(m[2]) < 65536 : isIP(server) !== 0
}

function definedOnly<T extends object>(init: T): Partial<T> {
  return Object.fromEntries(Object.entries(init).filter(([, v]) => v !== undefined)) as Partial<T>
}
