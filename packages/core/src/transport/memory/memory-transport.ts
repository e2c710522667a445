import { TypedEmitter } from '../../events.js'
import { type Logger, silentLogger } from '../../logger.js'
import { type Address, addressKey, validateHost, validatePort } from '../../member.js'
import type { FrameHandler, Transport, TransportEvents } from '../transport.js'
import type { MemoryNetwork } from './memory-network.js'

export interface MemoryTransportInit {
  network: MemoryNetwork
  /** @default '127.0.0.1' */
  host?: string
  /** 0 picks the next free port on this network. @default 0 */
  port?: number
  /** Frames held per unreachable peer until it appears (like a TCP send queue). @default 10_000 */
  maxQueuedFrames?: number
  /** Where a throwing frame handler or listener is reported. @default silentLogger */
  logger?: Logger
}

const DEFAULT_MAX_QUEUED = 10_000
let nextPort = 40_000

/** What TCP reports when nothing listens at an address. */
function refused(to: Address): Error {
  return Object.assign(new Error(`connect ECONNREFUSED ${addressKey(to)}`), { code: 'ECONNREFUSED' })
}

/** An in-process transport over a shared MemoryNetwork: the same contract as TCP, for unit tests. */
export function memoryTransport(init: MemoryTransportInit): Transport {
  return new MemoryTransport(init)
}

class MemoryTransport implements Transport {
  readonly #network: MemoryNetwork
  readonly #maxQueued: number
  readonly #log: Logger
  readonly #events: TypedEmitter<TransportEvents>
  readonly #pending = new Map<string, { to: Address; frames: Uint8Array[] }>()
  /** Peers whose connection was reset: the next send reconnects (peerUp), as TCP does. */
  readonly #reset = new Set<string>()
  #address: Address
  #handler: FrameHandler = () => {}
  #started = false
  #retry?: { cancel(): void }

  constructor(init: MemoryTransportInit) {
    this.#network = init.network
    this.#maxQueued = init.maxQueuedFrames ?? DEFAULT_MAX_QUEUED
    this.#log = init.logger ?? silentLogger
    this.#events = new TypedEmitter((error, event) => this.#log.error('transport listener threw', { event, error }))
    const host = validateHost(init.host ?? '127.0.0.1')
    const port = validatePort(init.port ?? 0, 'port')
    this.#address = { host, port }
  }

  get address(): Address {
    return this.#address
  }

  async start(): Promise<void> {
    if (this.#started) return
    if (this.#address.port === 0) this.#address = { ...this.#address, port: nextPort++ }
    this.#started = true
    this.#network.attach(this)
    // Like TCP's reconnect: frames held for a peer go out once it listens.
    this.#retry = this.#network.clock.setInterval(() => this.#flushPending(), 100)
  }

  async stop(): Promise<void> {
    if (!this.#started) return
    this.#started = false
    this.#network.detach(this)
    this.#retry?.cancel()
    this.#pending.clear()
  }

  send(to: Address, frame: Uint8Array): boolean {
    if (!this.#started) return false
    const key = addressKey(to)
    const held = this.#pending.get(key)
    if (held) return this.#hold(key, to, frame, held.frames)
    if (this.#network.isAttached(to)) {
      if (this.#reset.delete(key)) this.#events.emit('peerUp', to)
      this.#network.transmit(this.#address, to, frame)
      return true
    }
    this.#events.emit('peerDown', to, refused(to))
    return this.#hold(key, to, frame, [])
  }

  forget(peer: Address): void {
    this.#pending.delete(addressKey(peer))
  }

  onFrame(handler: FrameHandler): void {
    this.#handler = handler
  }

  on<K extends keyof TransportEvents>(event: K, listener: TransportEvents[K]): () => void {
    return this.#events.on(event, listener)
  }

  /** @internal called by the network */
  connectionReset(peer: Address): void {
    if (!this.#started) return
    const error = Object.assign(new Error(`connection to ${addressKey(peer)} reset`), { code: 'ECONNRESET' })
    this.#events.emit('peerDown', peer, error)
    // Marked after every peerDown listener ran: a listener that sends at once must not announce the reconnection
    // (peerUp) to the listeners still to hear of the reset, as TCP, whose reconnection takes a while, never does.
    this.#reset.add(addressKey(peer))
  }

  /** @internal called by the network */
  receive(from: Address, frame: Uint8Array): void {
    if (!this.#started) return
    try {
      this.#handler(from, frame)
    } catch (error) {
      // Like TCP: a failing receiver must not take the network (or the process) down.
      this.#log.error('frame handler threw', { error })
    }
  }

  #hold(key: string, to: Address, frame: Uint8Array, frames: Uint8Array[]): boolean {
    if (frames.length >= this.#maxQueued) {
      this.#events.emit('rejected', { reason: 'queue-full', remote: key })
      return false
    }
    frames.push(frame)
    this.#pending.set(key, { to, frames })
    return true
  }

  #flushPending(): void {
    for (const [key, { to, frames }] of this.#pending) {
      if (!this.#network.isAttached(to)) continue
      this.#pending.delete(key)
      this.#events.emit('peerUp', to)
      for (const frame of frames) this.#network.transmit(this.#address, to, frame)
    }
  }
}
