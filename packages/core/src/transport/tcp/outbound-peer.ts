import { connect, type Socket } from 'node:net'
import type { TimerHandle } from '../../clock/clock.js'
import type { FrameSealer } from '../../crypto/frame-protector.js'
import { type Address, addressKey } from '../../member.js'
import { Backoff } from './backoff.js'
import type { TcpContext } from './context.js'
import { encodeFrames } from './frame-reader.js'
import { encodeHello } from './hello.js'
import { SendQueue } from './send-queue.js'

/** Frames sealed and written per socket.write; large enough to amortise syscalls, small enough to interleave. */
const WRITE_BATCH_BYTES = 1024 * 1024

type State = 'idle' | 'connecting' | 'up' | 'waiting-to-retry' | 'closed'

/**
 * The one outbound (send-only) connection to a peer: a bounded queue, a connection opened on demand
 * and re-opened with backoff while frames wait, writes coalesced per event-loop turn. Frames are sealed
 * only when written, because every new connection starts a new sealer (and sequence) after its hello.
 */
export class OutboundPeer {
  readonly #ctx: TcpContext
  readonly #peer: Address
  readonly #key: string
  readonly #queue: SendQueue
  readonly #backoff: Backoff
  #state: State = 'idle'
  #socket: Socket | undefined
  #sealer: FrameSealer | undefined
  #helloPending = false
  #awaitingDrain = false
  #flushScheduled: NodeJS.Immediate | undefined
  #connectTimer: TimerHandle | undefined
  #retryTimer: TimerHandle | undefined
  #lastError: Error | undefined
  /** peerDown is reported once per outage, not once per failed retry. */
  #reportedDown = false

  constructor(ctx: TcpContext, peer: Address) {
    this.#ctx = ctx
    this.#peer = { host: peer.host, port: peer.port }
    this.#key = addressKey(peer)
    this.#queue = new SendQueue(ctx.options.maxQueueBytes)
    this.#backoff = new Backoff(ctx.options.reconnectInitialDelayMs, ctx.options.reconnectMaxDelayMs)
  }

  /** Queue a frame; false when the bounded queue is full. */
  send(frame: Uint8Array): boolean {
    if (this.#state === 'closed' || !this.#queue.offer(frame)) return false
    if (this.#state === 'idle') this.#connect()
    else if (this.#state === 'up') this.#scheduleFlush()
    return true
  }

  close(): void {
    this.#state = 'closed'
    this.#connectTimer?.cancel()
    this.#retryTimer?.cancel()
    if (this.#flushScheduled) clearImmediate(this.#flushScheduled)
    this.#flushScheduled = undefined
    this.#queue.clear()
    this.#socket?.destroy()
    this.#socket = undefined
  }

  #connect(): void {
    const { options } = this.#ctx
    this.#state = 'connecting'
    const socket = connect({
      host: this.#peer.host,
      port: this.#peer.port,
      noDelay: true,
      keepAlive: true,
      keepAliveInitialDelay: options.keepAliveInitialDelayMs,
    })
    this.#socket = socket
    this.#connectTimer = options.clock.setTimeout(() => {
      socket.destroy(new Error(`connect to ${this.#key} timed out after ${options.connectTimeoutMs} ms`))
    }, options.connectTimeoutMs)
    socket.once('connect', () => this.#onConnected(socket))
    socket.on('drain', () => {
      this.#awaitingDrain = false
      this.#scheduleFlush()
    })
    // Send-only: a peer never writes here, but reading lets us notice its close (FIN) promptly.
    socket.on('data', (chunk: Buffer) => {
      options.logger.debug('unexpected bytes on an outbound connection', { peer: this.#key, bytes: chunk.length })
    })
    socket.on('error', (error) => {
      this.#lastError = error
    })
    socket.on('close', () => this.#onClosed(socket))
  }

  #onConnected(socket: Socket): void {
    if (socket !== this.#socket) return
    this.#connectTimer?.cancel()
    this.#state = 'up'
    this.#sealer = this.#ctx.options.protector.outbound()
    this.#helloPending = true
    this.#backoff.reset()
    this.#reportedDown = false
    this.#lastError = undefined
    this.#ctx.options.metrics.increment('transport.connections.opened')
    this.#ctx.options.logger.debug('connected to peer', { peer: this.#key })
    this.#ctx.events.emit('peerUp', this.#peer)
    this.#scheduleFlush()
  }

  #onClosed(socket: Socket): void {
    if (socket !== this.#socket) return
    this.#connectTimer?.cancel()
    if (this.#flushScheduled) clearImmediate(this.#flushScheduled)
    this.#flushScheduled = undefined
    this.#socket = undefined
    this.#sealer = undefined
    this.#awaitingDrain = false
    if (this.#state === 'closed') return
    const wasUp = this.#state === 'up'
    const { logger, metrics } = this.#ctx.options
    metrics.increment(wasUp ? 'transport.connections.dropped' : 'transport.connections.failed')
    if (!this.#reportedDown) {
      this.#reportedDown = true
      logger.warn(wasUp ? 'connection to peer dropped' : 'cannot connect to peer', { peer: this.#key, error: this.#lastError })
      this.#ctx.events.emit('peerDown', this.#peer, this.#lastError)
    }
    this.#state = 'idle'
    // With nothing to send, reconnect lazily on the next send instead of dialling a departed peer forever.
    if (this.#queue.length > 0) this.#scheduleRetry()
  }

  #scheduleRetry(): void {
    this.#state = 'waiting-to-retry'
    this.#retryTimer = this.#ctx.options.clock.setTimeout(() => {
      this.#retryTimer = undefined
      if (this.#state === 'waiting-to-retry') this.#connect()
    }, this.#backoff.next())
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#awaitingDrain) return
    this.#flushScheduled = setImmediate(() => {
      this.#flushScheduled = undefined
      this.#flush()
    })
  }

  /** Seal everything queued this turn (up to a batch) and hand it to the socket in one write. */
  #flush(): void {
    const socket = this.#socket
    const sealer = this.#sealer
    if (this.#state !== 'up' || !socket || !sealer || this.#awaitingDrain) return
    const { options } = this.#ctx
    const frames = this.#queue.takeBatch(WRITE_BATCH_BYTES)
    const sealed: Uint8Array[] = []
    if (this.#helloPending) {
      sealed.push(sealer.seal(encodeHello(this.#ctx.localAddress())))
      this.#helloPending = false
    }
    for (const frame of frames) sealed.push(sealer.seal(frame))
    for (const frame of sealed) {
      if (frame.length > options.maxFrameBytes) {
        // Skipping it would break the sealed sequence; restart the connection with a fresh sealer instead.
        options.logger.error('sealed frame exceeds maxFrameBytes; reconnecting', { peer: this.#key, bytes: frame.length })
        options.metrics.increment('transport.dropped.too-large')
        socket.destroy()
        return
      }
    }
    if (sealed.length === 0) return
    const wire = encodeFrames(sealed)
    options.metrics.increment('transport.frames.sent', frames.length)
    options.metrics.increment('transport.bytes.sent', wire.length)
    options.metrics.increment('transport.writes')
    if (!socket.write(wire)) this.#awaitingDrain = true
    else if (this.#queue.length > 0) this.#scheduleFlush()
  }
}
