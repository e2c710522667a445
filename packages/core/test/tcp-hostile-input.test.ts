import { connect } from 'node:net'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { aesGcmProtector } from '../src/crypto/aes-gcm-protector.js'
import type { Address } from '../src/member.js'
import { Metrics } from '../src/metrics.js'
import { encodeFrames, FrameReader } from '../src/transport/tcp/frame-reader.js'
import { decodeGreeting, encodeGreeting, encodeRefusal, type Greeting } from '../src/transport/tcp/greeting.js'
import { encodeHello } from '../src/transport/tcp/hello.js'
import { tcpTransport } from '../src/transport/tcp/index.js'
import type { FrameRejection, Transport } from '../src/transport/transport.js'

// A real listening TCP transport fed hostile bytes on raw sockets, after its greeting (so an attack can use the
// connection's fresh nonce, as an attacker on the path would): each connection must be closed by the server and
// counted with the right reason, and a legitimate peer must keep working afterwards.

const secret = 'hostile-input secret'
const clusterName = 'hostile'
const MAX_FRAME_BYTES = 64 * 1024
const claimed: Address = { host: '127.0.0.1', port: 1 }

interface Attack {
  kind: string
  /** The bytes to send once the server greeted this connection. */
  bytes: (greeting: Greeting) => Uint8Array
  expected: FrameRejection
  /** The attacker half-closes (a stream cut inside a frame); otherwise the server must close on its own. */
  endsStream: boolean
}

const wire = (frames: Uint8Array[]) => encodeFrames(frames)
/** A sealed record holding the frames, as the transport writes them (see tcp-transport.ts). */
const record = (sealer: { seal(b: Uint8Array): Uint8Array }, frames: Uint8Array[]) => sealer.seal(encodeFrames(frames))
const sealerFor = (greeting: Greeting, s = secret, name = clusterName) =>
  aesGcmProtector({ secret: s, clusterName: name }).outbound({ receiverNonce: greeting.nonce, receiver: `${greeting.address.host}:${greeting.address.port}`, sender: `${claimed.host}:${claimed.port}` })
const helloUnder = (greeting: Greeting, s = secret, name = clusterName) => record(sealerFor(greeting, s, name), [encodeHello(claimed)])

describe('tcp transport under hostile input (aes-gcm)', () => {
  let server: Transport
  let peer: Transport
  const metrics = new Metrics()
  const rejections: FrameRejection[] = []
  const delivered: { from: Address; text: string }[] = []
  let recording: Buffer

  beforeAll(async () => {
    server = tcpTransport({ port: 0, protector: aesGcmProtector({ secret, clusterName }), maxFrameBytes: MAX_FRAME_BYTES, metrics })
    peer = tcpTransport({ port: 0, protector: aesGcmProtector({ secret, clusterName }) })
    server.on('rejected', ({ reason }) => rejections.push(reason))
    server.onFrame((from, frame) => delivered.push({ from, text: Buffer.from(frame).toString() }))
    await Promise.all([server.start(), peer.start()])

    // A legitimate connection, recorded by an eavesdropper as it is accepted.
    await sendRaw(server.address, (greeting) => {
      const sealer = sealerFor(greeting)
      recording = wire([record(sealer, [encodeHello(claimed), Buffer.from('recorded 1')]), record(sealer, [Buffer.from('recorded 2')])])
      return recording
    }, true)
    await waitFor(() => delivered.some((d) => d.text === 'recorded 2'))
    expect(delivered.find((d) => d.text === 'recorded 1')?.from).toEqual(claimed)
  })

  afterAll(async () => {
    await Promise.all([server.stop(), peer.stop()])
  })

  const attacks: fc.Arbitrary<Attack> = fc.oneof(
    fc.uint8Array({ minLength: 1, maxLength: 2048 }).map((bytes) => ({ kind: 'random bytes', bytes: () => bytes, ...expectedForRandom(bytes) })),
    fc.tuple(fc.integer({ min: MAX_FRAME_BYTES + 1, max: 0xffff_ffff }), fc.uint8Array({ maxLength: 64 })).map(([length, tail]) => {
      const prefix = Buffer.alloc(4)
      prefix.writeUInt32BE(length)
      return { kind: 'absurd length prefix', bytes: () => Buffer.concat([prefix, tail]), expected: 'frame-too-large' as const, endsStream: false }
    }),
    fc.nat().map((n) => ({
      kind: 'truncated valid frame',
      bytes: (g: Greeting) => {
        const sealed = helloUnder(g)
        return wire([sealed.subarray(0, n % sealed.length)])
      },
      expected: 'decryption-failed' as const,
      endsStream: false,
    })),
    fc.nat().map((n) => ({
      kind: 'stream cut inside a valid frame',
      bytes: (g: Greeting) => {
        const framed = wire([helloUnder(g)])
        return framed.subarray(0, 1 + (n % (framed.length - 1)))
      },
      expected: 'malformed' as const,
      endsStream: true,
    })),
    fc.constant({ kind: 'valid frame, wrong key', bytes: (g: Greeting) => wire([helloUnder(g, 'another secret, not ours')]), expected: 'decryption-failed' as const, endsStream: false }),
    fc.constant({ kind: 'valid frame, wrong cluster', bytes: (g: Greeting) => wire([helloUnder(g, secret, 'another cluster')]), expected: 'decryption-failed' as const, endsStream: false }),
    // The server greets each connection with a fresh nonce: a recording of another connection does not authenticate.
    fc.constant({ kind: 'replayed connection', bytes: () => recording, expected: 'decryption-failed' as const, endsStream: false }),
    // Without the connection's first record nothing names the key its tail was sealed under.
    fc.constant({ kind: 'replayed tail of a connection', bytes: () => recording.subarray(recordingFirstFrameBytes(recording)), expected: 'decryption-failed' as const, endsStream: false }),
    // The handshake's own messages, sent where records belong: the greeting reflected back, a refusal, a record
    // sealed for another receiver (its nonce and address), and an older release's first record.
    fc.constant({ kind: 'greeting reflected', bytes: (g: Greeting) => wire([encodeGreeting(g.address, g.nonce)]), expected: 'decryption-failed' as const, endsStream: false }),
    fc.constant({ kind: 'refusal sent to the receiver', bytes: () => wire([encodeRefusal('wrong-secret', 'no')]), expected: 'decryption-failed' as const, endsStream: false }),
    fc.constant({
      kind: 'record sealed for another node',
      bytes: (g: Greeting) => wire([helloUnder({ ...g, address: { host: '127.0.0.9', port: g.address.port } })]),
      expected: 'decryption-failed' as const,
      endsStream: false,
    }),
    fc.uint8Array({ minLength: 40, maxLength: 200 }).map((tail) => ({
      kind: 'protocol 2 first record',
      bytes: () => wire([Buffer.concat([Buffer.from([0x01]), tail])]),
      expected: 'incompatible-version' as const,
      endsStream: false,
    })),
  )

  it('closes each hostile connection, counts the reason, and keeps serving a legitimate peer', async () => {
    let legit = 0
    await fc.assert(
      fc.asyncProperty(attacks, async (attack) => {
        const before = rejections.length
        const counted = metrics.get(`transport.rejected.${attack.expected}`)
        await sendRaw(server.address, attack.bytes, attack.endsStream)
        await waitFor(() => rejections.length > before)
        expect({ kind: attack.kind, reasons: rejections.slice(before) }).toEqual({ kind: attack.kind, reasons: [attack.expected] })
        expect(metrics.get(`transport.rejected.${attack.expected}`)).toBe(counted + 1)

        const text = `legit ${legit++}`
        expect(peer.send(server.address, Buffer.from(text))).toBe(true)
        await waitFor(() => delivered.some((d) => d.text === text))
        expect(delivered.find((d) => d.text === text)?.from).toEqual(peer.address)
      }),
      { numRuns: 50 },
    )
  })
})

function expectedForRandom(bytes: Uint8Array): { expected: FrameRejection; endsStream: boolean } {
  if (bytes.length < 4) return { expected: 'malformed', endsStream: true }
  const length = Buffer.from(bytes).readUInt32BE(0)
  if (length > MAX_FRAME_BYTES) return { expected: 'frame-too-large', endsStream: false }
  if (bytes.length - 4 < length) return { expected: 'malformed', endsStream: true }
  return { expected: 'decryption-failed', endsStream: false }
}

function recordingFirstFrameBytes(recording: Buffer): number {
  return 4 + recording.readUInt32BE(0)
}

/**
 * Connect, wait for the server's greeting, write `bytes(greeting)`, and resolve when the connection is closed (by
 * the server, unless `end`).
 */
function sendRaw(to: Address, bytes: (greeting: Greeting) => Uint8Array, end: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: to.host, port: to.port })
    const reader = new FrameReader(1024, 1024)
    let greeted = false
    socket.on('error', () => {
      // ECONNRESET/EPIPE are expected: the server hangs up on hostile input mid-write.
    })
    socket.on('close', () => (greeted ? resolve() : reject(new Error('closed before the greeting'))))
    socket.on('data', (chunk: Buffer) => {
      if (greeted) return // a refusal, say
      const [first] = reader.push(chunk)
      if (!first) return
      const decoded = decodeGreeting(first)
      if (!('greeting' in decoded)) throw new Error('expected a greeting')
      greeted = true
      socket.write(bytes(decoded.greeting))
      if (end) socket.end()
    })
  })
}

async function waitFor(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}
