import { connect } from 'node:net'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { plaintextProtector } from '../src/crypto/plaintext-protector.js'
import { FrameTooLargeError, MalformedMessageError } from '../src/errors.js'
import { encodeFrames, FrameReader, splitRecord } from '../src/transport/tcp/frame-reader.js'
import { decodeGreeting, describeForeignBytes, encodeGreeting, encodeRefusal } from '../src/transport/tcp/greeting.js'
import { agreedVersion, decodeHello, encodeHello } from '../src/transport/tcp/hello.js'
import { tcpTransport } from '../src/transport/tcp/index.js'

describe('FrameReader', () => {
  it('reassembles frames however the stream is chunked', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }), fc.array(fc.integer({ min: 1, max: 97 })), (frames, cuts) => {
        const stream = encodeFrames(frames)
        const reader = new FrameReader(1024)
        const out: Uint8Array[] = []
        let offset = 0
        for (let i = 0; offset < stream.length; i++) {
          const size = cuts.length > 0 ? cuts[i % cuts.length]! : stream.length
          out.push(...reader.push(stream.subarray(offset, offset + size)))
          offset += size
        }
        expect(out.map((f) => Buffer.from(f).toString('hex'))).toEqual(frames.map((f) => Buffer.from(f).toString('hex')))
        expect(reader.midFrame).toBe(false)
      }),
    )
  })

  it('refuses an oversized length prefix as soon as the prefix arrives', () => {
    const reader = new FrameReader(1000)
    expect(reader.push(Buffer.from([0, 0]))).toEqual([])
    expect(() => reader.push(Buffer.from([0x03, 0xe9]))).toThrow(FrameTooLargeError)
  })

  it('knows when the stream stopped inside a frame, even right after a prefix', () => {
    const reader = new FrameReader(1000)
    reader.push(Buffer.from([0, 0, 0, 5]))
    expect(reader.midFrame).toBe(true)
  })
})

describe('records and hello', () => {
  it('splits a record and refuses inconsistent lengths', () => {
    const record = encodeFrames([Buffer.from('a'), Buffer.alloc(0), Buffer.from('ccc')])
    expect(splitRecord(record).map((f) => Buffer.from(f).toString())).toEqual(['a', '', 'ccc'])
    expect(() => splitRecord(record.subarray(0, record.length - 1))).toThrow(MalformedMessageError)
    expect(() => splitRecord(Buffer.from([0, 0]))).toThrow(MalformedMessageError)
  })

  it('round-trips a greeting and a refusal, and names what is not one', () => {
    const nonce = Buffer.alloc(16, 7)
    const decoded = decodeGreeting(encodeGreeting({ host: '10.0.0.2', port: 4000 }, nonce))
    expect(decoded).toEqual({ greeting: { address: { host: '10.0.0.2', port: 4000 }, lowest: 3, highest: 3, nonce } })
    expect(decodeGreeting(encodeRefusal('wrong-secret', 'records from x do not authenticate'))).toEqual({
      refusal: { reason: 'wrong-secret', detail: 'records from x do not authenticate' },
    })
    expect(() => decodeGreeting(Buffer.from('HTTP/1.1 400 Bad Request'))).toThrow(/did not greet as a session-cluster node/)
    expect(describeForeignBytes(Buffer.from('HTTP/1.1 400\r\n'))).toBe('"HTTP/1.1 400.."')
  })

  it('round-trips a hello and refuses malformed ones', () => {
    expect(decodeHello(encodeHello({ host: '::1', port: 4000 }))).toEqual({ address: { host: '::1', port: 4000 }, lowest: 3, highest: 3 })
    expect(() => decodeHello(Buffer.from('hello'))).toThrow(MalformedMessageError)
    expect(() => decodeHello(encodeHello({ host: 'bad host!', port: 4000 }))).toThrow(MalformedMessageError)
    expect(() => decodeHello(encodeHello({ host: '127.0.0.1', port: 0 }))).toThrow(MalformedMessageError)
  })

  it('closes a connection whose first frame is not a hello, and one that never sends it', async () => {
    const server = tcpTransport({ port: 0, protector: plaintextProtector(), helloTimeoutMs: 50 })
    await server.start()
    const reasons: string[] = []
    server.on('rejected', ({ reason }) => reasons.push(reason))
    await rawExchange(server.address.port, encodeFrames([encodeFrames([Buffer.from('not a hello')])]))
    await rawExchange(server.address.port, Buffer.alloc(0))
    expect(reasons).toEqual(['bad-hello', 'bad-hello'])
    await server.stop()
  })
})

describe('wire protocol versions (hello)', () => {
  /** A peer's first record: its hello only, as a plaintext transport sends it. */
  const helloRecord = (lowest: number, highest: number) => encodeFrames([encodeFrames([encodeHello({ host: '127.0.0.1', port: 4999 }, { lowest, highest })])])

  it('agrees on the highest version both speak; none in common is undefined', () => {
    expect(agreedVersion({ lowest: 2, highest: 3 }, { lowest: 1, highest: 2 })).toBe(2)
    expect(agreedVersion({ lowest: 1, highest: 2 }, { lowest: 2, highest: 3 })).toBe(2)
    expect(agreedVersion({ lowest: 3, highest: 4 }, { lowest: 1, highest: 2 })).toBeUndefined()
  })

  it('refuses a peer that speaks no version in common, names it and the versions, and counts it', async () => {
    const server = tcpTransport({ port: 0, protector: plaintextProtector() })
    await server.start()
    const rejected: Array<{ reason: string; message: string | undefined }> = []
    server.on('rejected', ({ reason, error }) => rejected.push({ reason, message: error?.message }))
    await rawExchange(server.address.port, helloRecord(4, 5)) // a future node that no longer speaks 3
    // The previous release's hello (layout 1, protocol 1 only).
    const v1 = Buffer.concat([Buffer.from('SCH\x01', 'latin1'), Buffer.from([0x13, 0x87, 9]), Buffer.from('127.0.0.1')])
    await rawExchange(server.address.port, encodeFrames([encodeFrames([v1])]))
    expect(rejected).toEqual([
      { reason: 'incompatible-version', message: 'peer 127.0.0.1:4999 speaks wire protocol 4-5, this node 3: upgrade one release at a time' },
      { reason: 'incompatible-version', message: 'peer 127.0.0.1:4999 speaks wire protocol 1, this node 3: upgrade one release at a time' },
    ])
    await server.stop()
  })

  it('accepts a newer peer that still speaks this version, and delivers its frames', async () => {
    const server = tcpTransport({ port: 0, protector: plaintextProtector() })
    await server.start()
    const frames: string[] = []
    server.onFrame((from, frame) => frames.push(`${from.port} ${Buffer.from(frame).toString()}`))
    const socket = connect({ host: '127.0.0.1', port: server.address.port })
    socket.write(Buffer.concat([helloRecord(3, 4), encodeFrames([encodeFrames([Buffer.from('from v4')])])]))
    const deadline = Date.now() + 5_000
    while (frames.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    socket.destroy()
    expect(frames).toEqual(['4999 from v4'])
    await server.stop()
  })
})

function rawExchange(port: number, bytes: Uint8Array): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    socket.on('error', () => {
      // The server hangs up on us: that is what is being tested.
    })
    socket.on('close', () => resolve())
    socket.resume()
    if (bytes.length > 0) socket.write(bytes)
  })
}
