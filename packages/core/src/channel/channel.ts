import { randomInt } from 'node:crypto'
import type { Clock, TimerHandle } from '../clock/clock.js'
import { systemClock } from '../clock/system-clock.js'
import type { Codec } from '../codec/codec.js'
import { cborCodec } from '../codec/cbor-codec.js'
import {
  AbortError,
  ClusterError,
  MalformedMessageError,
  NotStartedError,
  PeerBusyError,
  RemoteApplyError,
  ReplicationTimeoutError,
  RequestTimeoutError,
  SendQueueFullError,
} from '../errors.js'
import { type Logger, silentLogger } from '../logger.js'
import { type Address, addressKey } from '../member.js'
import { type CounterCell, Metrics } from '../metrics.js'
import type { Transport } from '../transport/transport.js'
import { type Envelope, Kind, parseEnvelope } from './envelope.js'
import { readEnvelope, writeEnvelope } from './envelope-bytes.js'
import { type Interceptor, composeInterceptors } from './interceptor.js'
import type { ClusterMessage, Delivery } from './message.js'

export interface ChannelInit {
  transport: Transport
  /** Encodes message bodies (the envelope around them is CBOR written by hand, see envelope-bytes.ts). @default cborCodec() */
  codec?: Codec
  /** @default systemClock */
  clock?: Clock
  logger?: Logger
  metrics?: Metrics
  /** How long an `ack` send waits for the receiver to apply a message (Tomcat's sender timeout). @default 3000 */
  ackTimeoutMs?: number
  /** How long `request` waits for a response. @default 10000 */
  requestTimeoutMs?: number
  interceptors?: readonly Interceptor[]
}

/** Message types whose counters stay bound (this cluster's own use a few dozen). */
const MAX_BOUND_TYPES = 64

export const DEFAULT_ACK_TIMEOUT_MS = 3_000
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000

export interface SendOptions {
  /** @default 'async' */
  delivery?: Delivery
  /** Overrides the channel's `ackTimeoutMs` for this send. */
  timeoutMs?: number
  signal?: AbortSignal
}

export interface DeliveryReport {
  /** Peers that accepted the frame (`async`) or applied the message (`ack`). */
  delivered: Address[]
  failed: Array<{ to: Address; error: Error }>
}

export interface MessageContext {
  from: Address
}
export type MessageHandler = (message: ClusterMessage, ctx: MessageContext) => void | Promise<void>
export type RequestHandler = (message: ClusterMessage, ctx: MessageContext) => ClusterMessage | Promise<ClusterMessage>

interface Pending {
  to: string
  resolve: (body: Envelope[3]) => void
  reject: (error: Error) => void
  timer: TimerHandle
}

/**
 * Messages between nodes over a Transport: fire-and-forget or acknowledged-after-apply sends, and
 * request/response. Decodes untrusted frames defensively: a bad frame is counted and logged, and when the
 * sender waits for an answer it gets a failure reply naming the problem, so nothing hangs.
 */
export class Channel {
  readonly #transport: Transport
  readonly #codec: Codec
  readonly #clock: Clock
  readonly #log: Logger
  readonly metrics: Metrics
  readonly #ackTimeoutMs: number
  readonly #requestTimeoutMs: number
  readonly #interceptors: ReturnType<typeof composeInterceptors>
  readonly #handlers = new Map<string, MessageHandler>()
  readonly #requestHandlers = new Map<string, RequestHandler>()
  readonly #pending = new Map<number, Pending>()
  readonly #typeCounts = { sent: new Map<string, CounterCell>(), received: new Map<string, CounterCell>() }
  // Random start: an answer recorded elsewhere and replayed here cannot match a pending exchange by its id.
  #nextId = randomInt(1, 2 ** 47)
  #started = false

  constructor(init: ChannelInit) {
    this.#transport = init.transport
    this.#codec = init.codec ?? cborCodec()
    this.#clock = init.clock ?? systemClock
    this.#log = init.logger ?? silentLogger
    this.metrics = init.metrics ?? new Metrics()
    this.#ackTimeoutMs = init.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS
    this.#requestTimeoutMs = init.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS
    this.#interceptors = composeInterceptors(init.interceptors ?? [])
    this.#transport.onFrame((from, frame) => this.#receive(from, frame))
  }

  get address(): Address {
    return this.#transport.address
  }

  get transport(): Transport {
    return this.#transport
  }

  get started(): boolean {
    return this.#started
  }

  async start(): Promise<void> {
    if (this.#started) return
    await this.#transport.start()
    this.#started = true
  }

  async stop(): Promise<void> {
    if (!this.#started) return
    this.#started = false
    for (const [id, pending] of this.#pending) {
      this.#pending.delete(id)
      pending.timer.cancel()
      pending.reject(new AbortError('channel stopped'))
    }
    await this.#transport.stop()
  }

  /** Handle messages of type `t` (one handler per type). For `ack` sends, the ack goes out when the returned promise settles. */
  handle(t: string, handler: MessageHandler): void {
    this.#handlers.set(t, handler)
  }

  /** Answer requests of type `t`. */
  handleRequest(t: string, handler: RequestHandler): void {
    this.#requestHandlers.set(t, handler)
  }

  /** Send one message to one or many peers. Never throws for peer failures: they are in the report. */
  async send(to: Address | readonly Address[], message: ClusterMessage, options: SendOptions = {}): Promise<DeliveryReport> {
    const targets = Array.isArray(to) ? (to as readonly Address[]) : [to as Address]
    const report: DeliveryReport = { delivered: [], failed: [] }
    if (!this.#started) {
      for (const t of targets) report.failed.push({ to: t, error: new NotStartedError('channel is not started') })
      return report
    }
    const body = this.#codec.encode(message)
    const ack = options.delivery === 'ack'
    const waits: Array<Promise<void>> = []
    for (const target of targets) {
      if (!this.#interceptors.onSend(message, target)) {
        this.metrics.increment('channel.intercepted')
        continue
      }
      this.#typeCount('sent', message.t).value++
      if (!ack) {
        if (this.#write(target, Kind.Message, 0, body, message.t)) report.delivered.push(target)
        else report.failed.push({ to: target, error: new SendQueueFullError(`send queue to ${addressKey(target)} is full`) })
        continue
      }
      const timeoutMs = options.timeoutMs ?? this.#ackTimeoutMs
      const wait = this.#exchange(target, Kind.Message, message.t, body, timeoutMs, options.signal, () =>
        new ReplicationTimeoutError(`${addressKey(target)} did not apply ${message.t} within ${timeoutMs} ms`),
      ).then(
        () => void report.delivered.push(target),
        (error: Error) => {
          if (error.name === 'ReplicationTimeoutError') this.metrics.increment('channel.ack-timeouts')
          report.failed.push({ to: target, error })
        },
      )
      waits.push(wait)
    }
    await Promise.all(waits)
    return report
  }

  /**
   * Ask one peer and wait for its answer. Rejects with RequestTimeoutError, RemoteApplyError, AbortError, or
   * PeerBusyError when the peer refused for now (ask later or elsewhere).
   */
  async request(to: Address, message: ClusterMessage, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<ClusterMessage> {
    if (!this.#started) throw new NotStartedError('channel is not started')
    const timeoutMs = options.timeoutMs ?? this.#requestTimeoutMs
    this.#typeCount('sent', message.t).value++
    const body = await this.#exchange(to, Kind.Request, message.t, this.#codec.encode(message), timeoutMs, options.signal, () =>
      new RequestTimeoutError(`${addressKey(to)} did not answer ${message.t} within ${timeoutMs} ms`),
    )
    if (!(body instanceof Uint8Array)) throw new MalformedMessageError('response without a body')
    return this.#decodeMessage(body)
  }

  #exchange(
    to: Address,
    kind: Kind,
    type: string,
    body: Uint8Array,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    timeoutError: () => Error,
  ): Promise<Envelope[3]> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(new AbortError('aborted', { cause: signal.reason }))
      const id = this.#nextId++
      const onAbort = () => settle(new AbortError('aborted', { cause: signal?.reason }))
      const settle = (error?: Error, value?: Envelope[3]) => {
        if (!this.#pending.delete(id)) return
        timer.cancel()
        signal?.removeEventListener('abort', onAbort)
        if (error) reject(error)
        else resolve(value ?? null)
      }
      const timer = this.#clock.setTimeout(() => settle(timeoutError()), timeoutMs)
      this.#pending.set(id, { to: addressKey(to), resolve: (v) => settle(undefined, v), reject: (e) => settle(e), timer })
      signal?.addEventListener('abort', onAbort, { once: true })
      if (!this.#write(to, kind, id, body, type)) {
        settle(new SendQueueFullError(`send queue to ${addressKey(to)} is full`))
      }
    })
  }

  /** `type`: the message's type tag, or the reply's kind; frames and bytes are counted under it. */
  #write(to: Address, kind: Kind, id: number, body: Envelope[3], type: string): boolean {
    const frame = writeEnvelope(kind, id, body)
    if (!this.#transport.send(to, frame)) return false
    const counters = this.metrics.cluster.frameCounters('sent', type)
    counters.frames.inc()
    counters.bytes.inc(frame.length)
    return true
  }

  #receive(from: Address, frame: Uint8Array): void {
    let envelope: Envelope
    try {
      envelope = readEnvelope(frame) ?? parseEnvelope(this.#codec.decode(frame))
    } catch (error) {
      this.#reject(from, error)
      return
    }
    const [, kind, id, body] = envelope
    switch (kind) {
      case Kind.Ack:
      case Kind.Response:
        this.#countReceived(kind === Kind.Ack ? 'ack' : 'response', frame.length)
        this.#settle(from, id, body)
        break
      case Kind.Failure:
        this.#countReceived('failure', frame.length)
        this.#settle(from, id, body, remoteError(from, body))
        break
      case Kind.Message:
      case Kind.Request:
        void this.#dispatch(from, kind, id, body, frame.length)
        break
    }
  }

  /**
   * `channel.<sent|received>.<type>`, bound per message type (counted per frame). Only so many types are kept bound:
   * a peer's unknown types are counted by name, as any counter.
   */
  #typeCount(direction: 'sent' | 'received', type: string): CounterCell {
    const bound = this.#typeCounts[direction]
    let cell = bound.get(type)
    if (!cell) {
      cell = this.metrics.cell(`channel.${direction}.${type}`)
      if (bound.size < MAX_BOUND_TYPES) bound.set(type, cell)
    }
    return cell
  }

  #countReceived(type: string, bytes: number): void {
    const counters = this.metrics.cluster.frameCounters('received', type)
    counters.frames.inc()
    counters.bytes.inc(bytes)
  }

  async #dispatch(from: Address, kind: Kind, id: number, body: Envelope[3], frameBytes: number): Promise<void> {
    let reply: Uint8Array | null = null
    try {
      if (!(body instanceof Uint8Array)) throw new MalformedMessageError('message without a body')
      const message = this.#decodeMessage(body)
      if (!this.#interceptors.onReceive(message, from)) {
        this.metrics.increment('channel.intercepted')
        return
      }
      this.#typeCount('received', message.t).value++
      // Counted under its type only once a handler exists for it: a peer cannot grow the label set at will.
      this.#countReceived(this.#handlers.has(message.t) || this.#requestHandlers.has(message.t) ? message.t : 'other', frameBytes)
      if (kind === Kind.Message) {
        const handler = this.#handlers.get(message.t)
        if (!handler) throw new MalformedMessageError(`no handler for message type ${JSON.stringify(message.t)}`)
        await handler(message, { from })
      } else {
        const handler = this.#requestHandlers.get(message.t)
        if (!handler) throw new MalformedMessageError(`no handler for request type ${JSON.stringify(message.t)}`)
        reply = this.#codec.encode(await handler(message, { from }))
      }
    } catch (error) {
      // A refusal for now is the handler's decision, counted and logged (rate-limited) where it was made.
      if (error instanceof PeerBusyError) this.metrics.increment('channel.refused-busy')
      else this.#reject(from, error)
      if (id > 0) this.#write(from, Kind.Failure, id, describe(error), 'failure')
      return
    }
    if (id > 0) {
      const replyKind = kind === Kind.Message ? Kind.Ack : Kind.Response
      this.#write(from, replyKind, id, reply, replyKind === Kind.Ack ? 'ack' : 'response')
    }
  }

  #settle(from: Address, id: number, body: Envelope[3], error?: Error): void {
    const pending = this.#pending.get(id)
    if (!pending || pending.to !== addressKey(from)) {
      // A late answer after a timeout, or one from the wrong peer: ignore, but make it visible.
      this.metrics.increment('channel.unmatched-replies')
      return
    }
    if (error) pending.reject(error)
    else pending.resolve(body)
  }

  #decodeMessage(body: Uint8Array): ClusterMessage {
    const message = this.#codec.decode(body) as { t?: unknown }
    if (message === null || typeof message !== 'object' || typeof message.t !== 'string') {
      throw new MalformedMessageError('message without a type tag')
    }
    return message as ClusterMessage
  }

  #reject(from: Address, error: unknown): void {
    const name = error instanceof ClusterError ? error.name : 'HandlerError'
    this.metrics.increment(name === 'MalformedMessageError' ? 'channel.malformed' : 'channel.handler-errors')
    if (name === 'MalformedMessageError') this.metrics.cluster.decodeFailures.labels('malformed-message').inc()
    this.#log.warn('message from peer rejected', { from: addressKey(from), error: describe(error) })
  }
}

/**
 * The error a failure reply stands for. Its body is the remote `name: message`; a refusal for now becomes a
 * PeerBusyError, so the requester can tell "ask later or elsewhere" from a failure (a node of an earlier release
 * sees a RemoteApplyError, and retries as after any failure).
 */
function remoteError(from: Address, body: Envelope[3]): Error {
  const text = String(body)
  const busy = 'PeerBusyError: '
  if (text.startsWith(busy)) return new PeerBusyError(`${addressKey(from)} is busy: ${text.slice(busy.length)}`)
  return new RemoteApplyError(`${addressKey(from)} failed: ${text}`)
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error)
}
