import { randomBytes } from 'node:crypto'
import type { Socket } from 'node:net'
import type { FrameOpener } from '../../crypto/frame-protector.js'
import { LEGACY_FIRST_RECORD } from '../../crypto/record-format.js'
import { DecryptionError, FrameTooLargeError, MalformedMessageError, ReplayError } from '../../errors.js'
import { type Address, addressKey } from '../../member.js'
import type { FrameRejection } from '../transport.js'
import type { TcpContext } from './context.js'
import { FrameReader, LENGTH_PREFIX_BYTES, splitRecord } from './frame-reader.js'
import { encodeGreeting, encodeRefusal, GREETING_NONCE_BYTES, type RefusalReason } from './greeting.js'
import { agreedVersion, decodeHello, SUPPORTED_PROTOCOLS } from './hello.js'

/**
 * One accepted (receive-only) connection. We greet first (a fresh nonce, our address and versions: the sender's
 * key is bound to them), then read length-prefixed sealed records → opener → the frames inside; the first frame
 * is the hello naming the sender, the rest are delivered as coming from that address. Anything wrong closes this
 * connection only; records that do not authenticate get a refusal first, so the sender can say why it is shut out.
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
    const nonce = randomBytes(GREETING_NONCE_BYTES)
    const local = ctx.localAddress()
    this.#opener = ctx.options.protector.inbound({ receiverNonce: nonce, receiver: addressKey(local) })
    writeFrame(socket, encodeGreeting(local, nonce))
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
    this.#ctx.counts.bytesReceived.value += chunk.length
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
        if (!this.#from) this.#refuseFirstRecord(sealed, error)
        else this.#reject(rejectionReason(error), asError(error))
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
          const claimed = this.#opener.claimedSender
          if (claimed !== undefined && claimed !== addressKey(hello.address)) {
            this.#reject('bad-hello', new MalformedMessageError(`hello names ${addressKey(hello.address)} but the connection was keyed for ${claimed}`))
            return
          }
          if (agreedVersion(hello) === undefined) {
            const { lowest, highest } = SUPPORTED_PROTOCOLS
            const range = (a: number, b: number) => (a === b ? `${a}` : `${a}-${b}`)
            const detail = `peer ${addressKey(hello.address)} speaks wire protocol ${range(hello.lowest, hello.highest)}, this node ${range(lowest, highest)}: upgrade one release at a time`
            this.#reject('incompatible-version', new MalformedMessageError(detail), 'incompatible-version')
            return
          }
          this.#from = hello.address
          this.#ctx.introduced(this)
          this.#ctx.peerIntroduced(this.#from)
          continue
        }
        this.#ctx.counts.framesReceived.value++
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

  /** The first record did not open: say why to the sender (it cannot tell otherwise) and in our log, by its name. */
  #refuseFirstRecord(sealed: Buffer, error: unknown): void {
    const sender = this.#opener.claimedSender ? `${this.#opener.claimedSender} (from ${this.#remote})` : this.#remote
    if (sealed[0] === LEGACY_FIRST_RECORD && this.#ctx.options.protector.encrypts) {
      const detail = `${sender} speaks wire protocol 2 (an older release), this node ${SUPPORTED_PROTOCOLS.lowest}: upgrade it`
      this.#reject('incompatible-version', new MalformedMessageError(detail), 'incompatible-version')
      return
    }
    if (error instanceof DecryptionError) {
      const detail = `records from ${sender} do not authenticate: wrong secret or cluster name`
      this.#reject('decryption-failed', new DecryptionError(detail, { cause: error }), 'wrong-secret')
      return
    }
    this.#reject(rejectionReason(error), asError(error))
  }

  #reject(reason: FrameRejection, error: Error, refusal?: RefusalReason): void {
    if (this.#closed) return
    this.#closed = true
    if (refusal) {
      // Best effort, bounded: the refusal goes out with our FIN; a peer that never reads it is cut off anyway.
      writeFrame(this.#socket, encodeRefusal(refusal, error.message))
      this.#socket.end()
      const socket = this.#socket
      this.#ctx.options.clock.setTimeout(() => socket.destroy(), 1_000)
    } else {
      this.#socket.destroy()
    }
    this.#ctx.reject(reason, this.#remote, error)
  }
}

/** u32 length | bytes, the framing of everything on a connection. */
function writeFrame(socket: Socket, bytes: Buffer): void {
  const prefix = Buffer.allocUnsafe(LENGTH_PREFIX_BYTES)
  prefix.writeUInt32BE(bytes.length)
  socket.write(Buffer.concat([prefix, bytes]))
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
