import { type AddressInfo, createServer, type Server, type Socket } from 'node:net'
import { InvalidParametersError, MalformedMessageError, SendQueueFullError } from '../../errors.js'
import { TypedEmitter } from '../../events.js'
import { type Address, addressKey, isLoopbackHost } from '../../member.js'
import { ThrottledWarning } from '../../throttled-warning.js'
import type { FrameHandler, FrameRejection, Transport, TransportEvents } from '../transport.js'
import { Admission, type AdmissionClose, sourceOf } from './admission.js'
import { type TcpContext, trafficCounts } from './context.js'
import { InboundConnection } from './inbound-connection.js'
import { RECORD_OVERHEAD_ALLOWANCE_BYTES, resolveTcpOptions, type TcpTransportInit, type TcpTransportOptions } from './options.js'
import { OutboundPeer } from './outbound-peer.js'

/**
 * A Transport over TCP (node:net): one ordered, send-only connection per peer opened on demand and
 * re-opened with backoff, receive-only inbound connections. On the wire: u32 length | sealed record,
 * where a record is the frames of one turn (each u32 length | frame), the first one a hello.
 *
 * @example
 * const transport = tcpTransport({ port: 4000, protector: aesGcmProtector({ secret, clusterName: 'shop' }) })
 * await transport.start()
 */
export function tcpTransport(init: TcpTransportInit): Transport {
  return new TcpTransport(resolveTcpOptions(init))
}

class TcpTransport implements Transport {
  readonly #options: TcpTransportOptions
  readonly #events: TypedEmitter<TransportEvents>
  readonly #ctx: TcpContext
  readonly #peers = new Map<string, OutboundPeer>()
  readonly #inbound = new Set<InboundConnection>()
  /** Bounds the connections that have not introduced themselves yet (admission.ts). */
  readonly #admission: Admission<InboundConnection>
  /** Connections turned away and input rejected are logged a few lines per interval, not one per socket. */
  readonly #admissionWarnings: ThrottledWarning
  readonly #rejectionWarnings: ThrottledWarning
  #server: Server | undefined
  #port: number
  #running = false
  /** start/stop run one after another, so overlapping calls are idempotent instead of racing. */
  #lifecycle: Promise<void> = Promise.resolve()
  /** queue-full is logged once per overflow episode per peer, not once per refused frame. */
  readonly #overflowing = new Set<string>()

  constructor(options: TcpTransportOptions) {
    this.#options = options
    this.#port = options.port
    const { logger, metrics, clock } = options
    this.#admission = new Admission(
      {
        maxPending: options.maxPendingConnections,
        maxPendingPerSource: options.maxPendingConnectionsPerSource,
        helloTimeoutMs: options.helloTimeoutMs,
      },
      clock,
      (connection, why, source) => this.#turnAway(connection, why, source),
    )
    this.#admissionWarnings = new ThrottledWarning(logger, clock, 'closing inbound connections that did not introduce themselves')
    this.#rejectionWarnings = new ThrottledWarning(logger, clock, 'transport rejected input')
    this.#events = new TypedEmitter<TransportEvents>((error, event) => {
      metrics.increment('transport.listener.errors')
      logger.error(`transport "${event}" listener threw`, { error })
    })
    this.#ctx = {
      options,
      events: this.#events,
      localAddress: () => this.address,
      deliver: () => metrics.increment('transport.frames.unhandled'),
      peerIntroduced: (peer) => this.#peers.get(addressKey(peer))?.retryNow(),
      introduced: (connection) => this.#admission.release(connection),
      reject: (reason, remote, error) => this.#reject(reason, remote, error),
      counts: trafficCounts(metrics),
    }
  }

  get address(): Address {
    return { host: this.#options.advertiseHost, port: this.#port }
  }

  start(): Promise<void> {
    return this.#serially(() => this.#start())
  }

  stop(): Promise<void> {
    return this.#serially(() => this.#stop())
  }

  send(to: Address, frame: Uint8Array): boolean {
    const { metrics, maxFrameBytes } = this.#options
    if (!this.#running) {
      metrics.increment('transport.dropped.not-running')
      return false
    }
    const key = addressKey(to)
    if (frame.length + RECORD_OVERHEAD_ALLOWANCE_BYTES > maxFrameBytes) {
      this.#reject('frame-too-large', key, new Error(`frame of ${frame.length} bytes exceeds maxFrameBytes ${maxFrameBytes}`))
      return false
    }
    let peer = this.#peers.get(key)
    if (!peer) this.#peers.set(key, (peer = new OutboundPeer(this.#ctx, to)))
    if (peer.send(frame)) {
      this.#overflowing.delete(key)
      return true
    }
    const error = new SendQueueFullError(`send queue to ${key} is full (maxQueueBytes ${this.#options.maxQueueBytes})`)
    if (this.#overflowing.has(key)) {
      metrics.increment('transport.rejected.queue-full')
      this.#events.emit('rejected', { reason: 'queue-full', remote: key, error })
    } else {
      this.#overflowing.add(key)
      this.#reject('queue-full', key, error)
    }
    return false
  }

  flush(): void {
    for (const peer of this.#peers.values()) peer.flushNow()
  }

  forget(peer: Address): void {
    const key = addressKey(peer)
    this.#peers.get(key)?.close()
    this.#peers.delete(key)
    this.#overflowing.delete(key)
  }

  onFrame(handler: FrameHandler): void {
    this.#ctx.deliver = handler
  }

  on<K extends keyof TransportEvents>(event: K, listener: TransportEvents[K]): () => void {
    return this.#events.on(event, listener)
  }

  #serially(step: () => Promise<void>): Promise<void> {
    // A failed start was reported to its own caller; the next step must still run.
    const next = this.#lifecycle.catch(() => undefined).then(step)
    this.#lifecycle = next
    return next
  }

  async #start(): Promise<void> {
    if (this.#running) return
    const { host, port, autoBind, keepAliveInitialDelayMs, logger, protector, insecure, advertiseHost } = this.#options
    const server = createServer({ noDelay: true, keepAlive: true, keepAliveInitialDelay: keepAliveInitialDelayMs }, (socket) =>
      this.#accept(socket),
    )
    for (let candidate = port; ; candidate++) {
      const error = await listen(server, host, candidate)
      if (!error) break
      if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE' && candidate < port + autoBind) continue
      throw listenError(error, host, candidate, autoBind > 0 ? port : undefined)
    }
    server.on('error', (error) => logger.error('cluster listener error', { error }))
    this.#server = server
    this.#port = (server.address() as AddressInfo).port
    this.#running = true
    if (insecure && !protector.encrypts && !(isLoopbackHost(host) && isLoopbackHost(advertiseHost))) {
      logger.warn(
        `INSECURE: cluster traffic on ${addressKey(this.address)} is neither encrypted nor authenticated; ` +
          'anyone who can reach this port can read sessions and inject changes. Set a cluster secret.',
      )
    }
    logger.info('cluster transport listening', { address: addressKey(this.address), encrypted: protector.encrypts })
  }

  async #stop(): Promise<void> {
    if (!this.#running) return
    this.#running = false
    await Promise.all([...this.#peers.values()].map((peer) => peer.drain(this.#options.drainTimeoutMs)))
    this.#peers.clear()
    this.#overflowing.clear()
    this.#admission.clear()
    for (const connection of this.#inbound) connection.destroy()
    this.#inbound.clear()
    this.#admissionWarnings.flush()
    this.#rejectionWarnings.flush()
    const server = this.#server
    this.#server = undefined
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()))
  }

  #accept(socket: Socket): void {
    if (!this.#running) {
      socket.destroy()
      return
    }
    const source = sourceOf(socket.remoteAddress)
    const connection = new InboundConnection(this.#ctx, socket, (closed) => {
      this.#inbound.delete(closed)
      this.#admission.release(closed)
    })
    this.#inbound.add(connection)
    // Let in: it may close an older connection that is still waiting for its hello.
    this.#admission.admit(connection, source)
  }

  /** Admission closes a connection that has not introduced itself (a cap reached, or its hello deadline passed). */
  #turnAway(connection: InboundConnection, why: AdmissionClose, source: string): void {
    const { metrics, helloTimeoutMs } = this.#options
    connection.destroy()
    metrics.increment(`transport.admission.${why}`)
    const error = new MalformedMessageError(
      why === 'hello-deadline'
        ? `no hello within ${helloTimeoutMs} ms`
        : why === 'source-cap'
          ? 'too many connections from its source are waiting for their hello; the oldest is closed'
          : 'too many connections are waiting for their hello; the oldest of the busiest source is closed',
    )
    this.#admissionWarnings.note(why, { source, error })
    this.#events.emit('rejected', { reason: why === 'hello-deadline' ? 'bad-hello' : 'too-many-connections', remote: source, error })
  }

  #reject(reason: FrameRejection, remote: string, error: Error): void {
    this.#options.metrics.increment(`transport.rejected.${reason}`)
    // Anyone who can reach the port can cause these, one per connection: a few lines per interval, the rest counted.
    this.#rejectionWarnings.note(reason, { remote, error })
    this.#events.emit('rejected', { reason, remote, error })
  }
}

/**
 * Listen on one port; resolves with the error instead of throwing, so the caller can try the next port. `exclusive`:
 * in a node:cluster worker (PM2's cluster mode too) a shared handle would let every worker "bind" the same port and
 * have the primary hand each worker a share of the connections; a cluster port must belong to one process.
 */
function listen(server: Server, host: string, port: number): Promise<Error | undefined> {
  return new Promise((resolve) => {
    const onError = (error: Error) => resolve(error)
    server.once('error', onError)
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', onError)
      resolve(undefined)
    })
  })
}

/**
 * node:net's listen errors name neither the option nor what the port is for; a node that cannot start should
 * say which setting to change. The original error is the cause (its `code` is still there).
 */
function listenError(error: Error, host: string, port: number, rangeStart?: number): Error {
  const code = (error as NodeJS.ErrnoException).code
  const reason =
    code === 'EADDRINUSE' && rangeStart !== undefined
      ? `every cluster port of ${rangeStart}-${port} (options \`port\` and \`autoBind\`) is in use on ${host}: widen the range, or stop some of the processes that hold it`
      : code === 'EADDRINUSE'
      ? `cluster port ${port} (option \`port\`) is already in use on ${host}: another process, or another cluster node in this one, listens there; choose another port (0 picks a free one)`
      : code === 'EACCES'
        ? `cluster port ${port} (option \`port\`) on ${host} needs privileges this process lacks; choose a port above 1023`
        : code === 'EADDRNOTAVAIL'
          ? `cluster host ${host} (option \`host\`) is not an address of this machine`
          : undefined
  return reason ? new InvalidParametersError(`${reason} (${code})`, { cause: error }) : error
}
