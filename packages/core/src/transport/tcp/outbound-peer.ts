import { connect, isIP, type Socket } from 'node:net'
import type { TimerHandle } from '../../clock/clock.js'
import type { FrameSealer } from '../../crypto/frame-protector.js'
import { type Address, addressKey } from '../../member.js'
import { isConnectionRefused, type PeerRefusal } from '../transport.js'
import { Backoff } from './backoff.js'
import type { TcpContext } from './context.js'
import { encodeFrames, FrameReader, LENGTH_PREFIX_BYTES } from './frame-reader.js'
import { decodeGreeting, describeForeignBytes, GREETING_MAX_BYTES, type Greeting } from './greeting.js'
import { agreedVersion, encodeHello, SUPPORTED_PROTOCOLS } from './hello.js'
import { RECORD_OVERHEAD_ALLOWANCE_BYTES } from './options.js'
import { SendQueue } from './send-queue.js'

/**
 * Frames sealed together as one record: one AES-GCM context per record instead of per frame (setting up a
 * context costs as much as encrypting ~8 KiB), while a receiver still gets frames in small steps.
 */
const RECORD_BYTES = 64 * 1024
/** Bytes handed to the socket per turn before yielding; large enough to amortise syscalls. */
const WRITE_BATCH_BYTES = 1024 * 1024

type State = 'idle' | 'connecting' | 'greeting' | 'up' | 'waiting-to-retry' | 'closed'

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
  #flushScheduled = false
  #connectTimer: TimerHandle | undefined
  #retryTimer: TimerHandle | undefined
  #lastError: Error | undefined
  /** The peer refused our last connection (wrong secret, another version): redial with backoff, not at once. */
  #refusedLastConnection = false
  #refusedThisConnection = false
  /** peerDown is reported once per outage, not once per failed retry (and once more when the peer refuses). */
  #reportedDown = false
  #reportedRefused = false

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

  /**
   * Graceful close: write what is queued (when connected), end the socket, and wait up to `timeoutMs`
   * for the bytes to leave, so a node that stops does not lose the changes it just sent.
   */
  async drain(timeoutMs: number): Promise<void> {
    const socket = this.#socket
    if (this.#state === 'up' && socket) {
      while (this.#queue.length > 0 || this.#helloPending) {
        this.#awaitingDrain = false
        this.#flush()
      }
      await new Promise<void>((resolve) => {
        const timer = this.#ctx.options.clock.setTimeout(resolve, timeoutMs)
        socket.end(() => {
          timer.cancel()
          resolve()
        })
      })
    }
    this.close()
  }

  close(): void {
    this.#state = 'closed'
    this.#connectTimer?.cancel()
    this.#retryTimer?.cancel()
    this.#queue.clear()
    this.#socket?.destroy()
    this.#socket = undefined
  }

  #connect(): void {
    const { options } = this.#ctx
    this.#state = 'connecting'
    this.#refusedThisConnection = false
    const socket = connect({
      host: this.#peer.host,
      port: this.#peer.port,
      ...localAddressFor(options.host, this.#peer.host),
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
    // The peer writes only its greeting (and a refusal, if it refuses our records); reading also lets us notice
    // its close (FIN) promptly.
    const reader = new FrameReader(GREETING_MAX_BYTES, GREETING_MAX_BYTES)
    socket.on('data', (chunk: Buffer) => this.#onData(socket, reader, chunk))
    socket.on('error', (error) => {
      this.#lastError = error
    })
    // The peer closed (FIN: its process exited or was killed). Drop now rather than wait for our own half-close to
    // finish a loop turn later: a request that arrives meanwhile must already see the peer as down, so a session
    // bound to it rebinds on that very answer.
    socket.on('end', () => socket.destroy())
    socket.on('close', () => this.#onClosed(socket))
  }

  #onConnected(socket: Socket): void {
    if (socket !== this.#socket) return
    const { options } = this.#ctx
    this.#connectTimer?.cancel()
    this.#state = 'greeting'
    // A node greets at once; a port that stays silent is a stopped or overloaded node, or no node of ours.
    this.#connectTimer = options.clock.setTimeout(() => {
      socket.destroy(new Error(`${this.#key} accepted the connection but sent no greeting within ${options.connectTimeoutMs} ms (a stopped node, or not a session-cluster port?)`))
    }, options.connectTimeoutMs)
  }

  #onData(socket: Socket, reader: FrameReader, chunk: Buffer): void {
    if (socket !== this.#socket) return
    let frames: Buffer[]
    try {
      frames = reader.push(chunk)
    } catch {
      this.#notANode(socket, chunk)
      return
    }
    for (const frame of frames) {
      let decoded: ReturnType<typeof decodeGreeting>
      try {
        decoded = decodeGreeting(frame)
      } catch {
        this.#notANode(socket, frame)
        return
      }
      if ('refusal' in decoded) {
        const { reason, detail } = decoded.refusal
        this.#refused(socket, reason, `${this.#key} refused our connection: ${detail}`)
        return
      }
      if (this.#state !== 'greeting') {
        this.#notANode(socket, frame)
        return
      }
      this.#onGreeting(socket, decoded.greeting)
    }
  }

  #onGreeting(socket: Socket, greeting: Greeting): void {
    if (agreedVersion(greeting) === undefined) {
      const range = (a: number, b: number) => (a === b ? `${a}` : `${a}-${b}`)
      const { lowest, highest } = SUPPORTED_PROTOCOLS
      const detail = `${this.#key} speaks wire protocol ${range(greeting.lowest, greeting.highest)}, this node ${range(lowest, highest)}: upgrade one release at a time`
      this.#refused(socket, 'incompatible-version', detail)
      return
    }
    this.#connectTimer?.cancel()
    this.#state = 'up'
    this.#sealer = this.#ctx.options.protector.outbound({
      receiverNonce: greeting.nonce,
      receiver: addressKey(greeting.address),
      sender: addressKey(this.#ctx.localAddress()),
    })
    this.#helloPending = true
    // A peer that refused our last connection greets the next one too, then refuses it again: only a connection
    // that ends without a refusal proves the peer takes us, so only then does the backoff start over (#onClosed).
    if (!this.#refusedLastConnection) this.#backoff.reset()
    this.#reportedDown = false
    this.#reportedRefused = false
    this.#lastError = undefined
    this.#ctx.options.metrics.increment('transport.connections.opened')
    this.#ctx.options.logger.debug('connected to peer', { peer: this.#key })
    this.#ctx.events.emit('peerUp', this.#peer)
    this.#scheduleFlush()
  }

  /** The peer told us why it will not take our records (or answered like no node of ours): report, then drop. */
  #refused(socket: Socket, reason: PeerRefusal, detail: string): void {
    const error = new Error(detail)
    this.#lastError = error
    this.#refusedThisConnection = true
    this.#refusedLastConnection = true
    this.#ctx.options.metrics.increment(`transport.refused-by-peer.${reason}`)
    this.#ctx.events.emit('peerRefused', this.#peer, reason, error)
    socket.destroy(error)
  }

  #notANode(socket: Socket, bytes: Buffer): void {
    this.#refused(socket, 'not-a-node', `${this.#key} is not a session-cluster node: it answered ${describeForeignBytes(bytes)}`)
  }

  #onClosed(socket: Socket): void {
    if (socket !== this.#socket) return
    this.#connectTimer?.cancel()
    this.#socket = undefined
    this.#sealer = undefined
    this.#awaitingDrain = false
    if (this.#state === 'closed') return
    const wasUp = this.#state === 'up'
    if (wasUp && !this.#refusedThisConnection) {
      this.#refusedLastConnection = false
      this.#backoff.reset()
    }
    const { logger, metrics } = this.#ctx.options
    metrics.increment(wasUp ? 'transport.connections.dropped' : 'transport.connections.failed')
    // A refusal is reported even within an outage: it proves no node listens there any more.
    const refused = isConnectionRefused(this.#lastError)
    if (!this.#reportedDown || (refused && !this.#reportedRefused)) {
      this.#reportedDown = true
      this.#reportedRefused = refused
      logger.warn(wasUp ? 'connection to peer dropped' : 'cannot connect to peer', { peer: this.#key, error: this.#lastError })
      this.#ctx.events.emit('peerDown', this.#peer, this.#lastError)
    }
    this.#state = 'idle'
    // A connection that was up is redialled at once: a restarted peer is back sooner, a dead one refuses (and is
    // removed) at once. Otherwise, with nothing to send, reconnect lazily instead of dialling a departed peer forever.
    if (wasUp || this.#queue.length > 0) this.#scheduleRetry()
  }

  /**
   * The peer just connected to us, so it is listening again (a restarted node): dial now instead of waiting
   * out the backoff, or its first seconds pass without our heartbeats and replication.
   */
  retryNow(): void {
    if (this.#state !== 'waiting-to-retry') return
    this.#retryTimer?.cancel()
    this.#retryTimer = undefined
    this.#backoff.reset()
    this.#connect()
  }

  #scheduleRetry(): void {
    this.#state = 'waiting-to-retry'
    this.#retryTimer = this.#ctx.options.clock.setTimeout(() => {
      this.#retryTimer = undefined
      if (this.#state === 'waiting-to-retry') this.#connect()
    }, this.#backoff.next())
  }

  /** Write what is queued now (a flush already scheduled for this turn then finds little or nothing to do). */
  flushNow(): void {
    if (this.#state === 'up' && !this.#awaitingDrain && (this.#helloPending || this.#queue.length > 0)) this.#flush()
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#awaitingDrain) return
    // Once per event-loop turn (check phase, right after I/O): frames sent by every callback of this turn
    // (say, several requests finishing together) leave in one write. A flush pending on a peer closed
    // meanwhile finds no socket and does nothing.
    this.#flushScheduled = true
    setImmediate(() => {
      this.#flushScheduled = false
      this.#flush()
    })
  }

  /**
   * Seal what was queued this turn into records (the hello first on a new connection) and hand them to
   * the socket corked, so one turn's frames leave in one write.
   */
  #flush(): void {
    const socket = this.#socket
    const sealer = this.#sealer
    if (this.#state !== 'up' || !socket || !sealer || this.#awaitingDrain) return
    if (!this.#helloPending && this.#queue.length === 0) return // flushed early (flushNow) this turn
    const { options } = this.#ctx
    const recordLimit = Math.min(RECORD_BYTES, options.maxFrameBytes - RECORD_OVERHEAD_ALLOWANCE_BYTES)
    let frameCount = 0
    let wireBytes = 0
    socket.cork()
    while (wireBytes < WRITE_BATCH_BYTES && (this.#helloPending || this.#queue.length > 0)) {
      // The hello travels alone in the first record: a receiver accepts only a few KiB from a connection
      // until it has authenticated, so unauthenticated connections cannot make it buffer megabytes.
      const frames = this.#helloPending
        ? [encodeHello(this.#ctx.localAddress())]
        : this.#queue.takeBatch(recordLimit, LENGTH_PREFIX_BYTES)
      if (this.#helloPending) this.#helloPending = false
      else frameCount += frames.length
      const sealed = sealer.seal(encodeFrames(frames))
      if (sealed.length > options.maxFrameBytes) {
        // Skipping it would break the sealed sequence; restart the connection with a fresh sealer instead.
        options.logger.error('sealed record exceeds maxFrameBytes; reconnecting', { peer: this.#key, bytes: sealed.length })
        options.metrics.increment('transport.dropped.too-large', frames.length)
        socket.destroy()
        return
      }
      const prefix = Buffer.allocUnsafe(LENGTH_PREFIX_BYTES)
      prefix.writeUInt32BE(sealed.length)
      socket.write(prefix)
      socket.write(sealed)
      wireBytes += LENGTH_PREFIX_BYTES + sealed.length
    }
    socket.uncork()
    const { counts } = this.#ctx
    counts.framesSent.value += frameCount
    counts.bytesSent.value += wireBytes
    counts.writes.value++
    if (socket.writableNeedDrain) this.#awaitingDrain = true
    else if (this.#queue.length > 0) this.#scheduleFlush()
  }
}

/**
 * Outbound connections leave from the address the cluster listens on, when that is one specific address of the
 * peer's family: on a host with several addresses, peers (and firewalls) then see the node where they expect it.
 */
function localAddressFor(host: string, peerHost: string): { localAddress?: string } {
  const family = isIP(host)
  if (family === 0 || family !== isIP(peerHost) || host === '0.0.0.0' || host === '::') return {}
  return { localAddress: host }
}
