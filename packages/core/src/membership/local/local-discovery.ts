import { InvalidParametersError } from '../../errors.js'
import type { TimerHandle } from '../../clock/clock.js'
import { type Address, addressKey, validateHost, validatePort } from '../../member.js'
import type { Discovery, DiscoveryContext } from '../discovery.js'
import { probeNode } from './probe.js'

export interface LocalDiscoveryInit {
  /** First port of the range the workers bind in (Tomcat's autoBind). @default 4000 */
  firstPort?: number
  /** Last port of the range, included. @default 4100 */
  lastPort?: number
  /** Host the workers listen on. @default this node's own cluster host */
  host?: string
  /** How often the whole range is probed again (a newcomer also calls every worker it found at once). @default 2000 */
  probeIntervalMs?: number
  /** How long one port may take to greet before it counts as not a node. @default 1000 */
  probeTimeoutMs?: number
}

export const LOCAL_DISCOVERY_DEFAULTS = { firstPort: 4000, lastPort: 4100, probeIntervalMs: 2_000, probeTimeoutMs: 1_000 } as const

/**
 * Workers on one host with nothing to configure (PM2 `-i max`, node:cluster): each binds the first free port of a
 * range, and finds its siblings by probing the range for ports that greet as a session-cluster node. No primary
 * process is involved, so it works where PM2 owns the master. Workers that start together: the first to bind takes
 * the lowest port and may start alone; every later one finds it listening and joins it.
 *
 * @example
 * createSessionCluster({ route: `w${process.pid}`, port: 4000, autoBind: 100, discovery: { kind: 'local' } })
 */
export function localDiscovery(init: LocalDiscoveryInit = {}): Discovery {
  return new LocalDiscovery(init)
}

class LocalDiscovery implements Discovery {
  readonly kind = 'local'
  readonly #opts: Required<Omit<LocalDiscoveryInit, 'host'>>
  readonly #host: string | undefined
  #context?: DiscoveryContext
  #found = new Map<string, Address>()
  #probed = false
  #timer?: TimerHandle
  #running = false
  /** A round still waiting for slow ports is not overlapped by the next one. */
  #probing = false

  constructor(init: LocalDiscoveryInit) {
    this.#opts = { ...LOCAL_DISCOVERY_DEFAULTS, ...definedOnly(init) }
    const { firstPort, lastPort, probeIntervalMs, probeTimeoutMs } = this.#opts
    validatePort(firstPort, 'local discovery firstPort', { allowZero: false })
    validatePort(lastPort, 'local discovery lastPort', { allowZero: false })
    if (lastPort < firstPort) throw new InvalidParametersError(`local discovery lastPort (${lastPort}) must not be below firstPort (${firstPort})`)
    // Every probe round opens a connection per port: a range of thousands of ports is a mistake, not a setting.
    if (lastPort - firstPort > 1_000) throw new InvalidParametersError(`local discovery range ${firstPort}-${lastPort} is too wide: at most 1001 ports`)
    for (const [name, value] of Object.entries({ probeIntervalMs, probeTimeoutMs })) {
      if (!Number.isFinite(value) || value <= 0) throw new InvalidParametersError(`local discovery ${name} must be a positive number of milliseconds`)
    }
    this.#host = init.host === undefined ? undefined : validateHost(init.host, 'local discovery host')
  }

  async start(context: DiscoveryContext): Promise<void> {
    if (this.#running) return
    this.#running = true
    this.#context = context
    await this.#probeRange()
    this.#timer = context.clock.setInterval(() => void this.#probeRange(), this.#opts.probeIntervalMs)
  }

  async stop(): Promise<void> {
    this.#running = false
    this.#timer?.cancel()
  }

  contacts(): readonly Address[] {
    return [...this.#found.values()]
  }

  settled(): boolean {
    return this.#probed
  }

  async #probeRange(): Promise<void> {
    const context = this.#context
    if (!context || !this.#running || this.#probing) return
    this.#probing = true
    try {
      await this.#probeOnce(context)
    } finally {
      this.#probing = false
    }
  }

  async #probeOnce(context: DiscoveryContext): Promise<void> {
    const host = this.#host ?? context.self.address.host
    const { firstPort, lastPort, probeTimeoutMs } = this.#opts
    const ports = Array.from({ length: lastPort - firstPort + 1 }, (_, i) => firstPort + i).filter(
      (port) => port !== context.self.address.port || host !== context.self.address.host,
    )
    const answers = await Promise.all(ports.map((port) => probeNode(host, port, probeTimeoutMs)))
    if (!this.#running) return
    const found = new Map<string, Address>()
    for (const address of answers) if (address) found.set(addressKey(address), address)
    const changed = found.size !== this.#found.size || [...found.keys()].some((key) => !this.#found.has(key))
    this.#found = found
    this.#probed = true
    context.metrics.increment('discovery.local.probes')
    if (changed) context.contactsChanged()
  }
}

function definedOnly<T extends object>(init: T): Partial<T> {
  return Object.fromEntries(Object.entries(init).filter(([, v]) => v !== undefined)) as Partial<T>
}
