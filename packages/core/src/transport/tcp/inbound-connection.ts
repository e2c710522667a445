import type { Socket } from 'node:net'
import type { FrameOpener } from '../../crypto/frame-protector.js'
import { DecryptionError, FrameTooLargeError, MalformedMessageError, ReplayError } from '../../errors.js'
import type { Address } from '../../member.js'
import type { FrameRejection } from '../transport.js'
import type { TcpContext } from './context.js'
import { FrameReader, splitRecord } from './frame-reader.js'
import { agreedVersion, decodeHello, SUPPORTED_PROTOCOLS } from './hello.js'

/**
 * One accepted (receive-only) connection: length-prefixed sealed records → opener → the frames inside;
 * the first frame is the hello naming the sender, the rest are delivered as coming from that address.
 * Anything wrong closes this connection only.
 */
/** The first record carries only the hello (an address) and the protector's overhead. */
export const HELLO_RECORD_MAX_BYTES = 4 * 1024

export class InboundConnection {
  readonly #ctx: TcpContext
  readonly #socket: Socket
  readonly #remote: string
  readonly #reader: FrameReader
  readonly #opener: FrameOpener
  #from: Address | undefined
  #closed = false

  constructor(ctx: TcpContext, socket: Socket, onClose: (connection: InboundConnection) => void) {
    this.#ctx = ctx
    this.#socket = socket
    this.#remote = `${socket.remoteAddress}:${socket.remotePort}`
    this.#reader = new FrameReader(ctx.options.maxFrameBytes, HELLO_RECORD_MAX_BYTES)
    this.#opener = ctx.options.protector.inbound()
    socket.on('data', (chunk: Buffer) => this.#onData(chunk))
    socket.on('end', () => {
      if (this.#reader.midFrame) this.#reject('malformed', new MalformedMessageError('connection ended inside a frame'))
    })
    socket.on('error', (error) => {
      if (!this.#closed) ctx.options.logger.debug('inbound connection error', { remote: this.#remote, error })
    })
    socket.on('close', () => {
      this.#closed = true
      onClose(this)
    })
  }

  /** Whether the peer authenticated and named itself (its hello opened). */
  get introduced(): boolean {
    return this.#from !== undefined
  }

  destroy(): void {
    this.#closed = true
    this.#socket.destroy()
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return
    const { metrics, logger } = this.#ctx.options
    metrics.increment('transport.bytes.received', chunk.length)
    let frames: Buffer[]
    try {
      frames = this.#reader.push(chunk)
    } catch (error) {
      this.#reject(rejectionReason(error), asError(error))
      return
    }
    for (const sealed of frames) {
      let record: Uint8Array[]
      try {
        record = splitRecord(this.#opener.open(sealed))
      } catch (error) {
        this.#reject(rejectionReason(error), asError(error))
        return
      }
      for (const payload of record) {
        if (!this.#from) {
          let hello: ReturnType<typeof decodeHello>
          try {
            hello = decodeHello(payload)
          } catch (error) {
            this.#reject('bad-hello', asError(error))
            return
          }
          if (agreedVersion(hello) === undefined) {
            const { lowest, highest } = SUPPORTED_PROTOCOLS
            const range = (a: number, b: number) => (a === b ? `${a}` : `${a}-${b}`)
            this.#reject(
              'incompatible-version',
              new MalformedMessageError(
                `peer ${hello.address.host}:${hello.address.port} speaks wire protocol ${range(hello.lowest, hello.highest)}, this node ${range(lowest, highest)}: upgrade one release at a time`,
              ),
            )
            return
          }
          this.#from = hello.address
          this.#ctx.introduced(this)
          this.#ctx.peerIntroduced(this.#from)
          continue
        }
        metrics.increment('transport.frames.received')
        try {
          this.#ctx.deliver(this.#from, payload)
        } catch (error) {
          // The receiver's bug, not the peer's: keep the connection, make the failure visible.
          metrics.increment('transport.handler.errors')
          logger.error('frame handler threw', { from: this.#from, error })
        }
        if (this.#closed) return
      }
    }
  }

  #reject(reason: FrameRejection, error: Error): void {
    if (this.#closed) return
    this.#closed = true
    this.#socket.destroy()
    this.#ctx.reject(reason, this.#remote, error)
  }
}

function rejectionReason(error: unknown): FrameRejection {
  if (error instanceof FrameTooLargeError) return 'frame-too-large'
  if (error instanceof DecryptionError) return 'decryption-failed'
  if (error instanceof ReplayError) return 'replay'
  return 'malformed'
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new MalformedMessageError(String(error), { cause: error })
}
