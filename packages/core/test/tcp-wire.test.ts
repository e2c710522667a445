import { connect } from 'node:net'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { plaintextProtector } from '../src/crypto/plaintext-protector.js'
import { FrameTooLargeError, MalformedMessageError } from '../src/errors.js'
import { encodeFrames, FrameReader, splitRecord } from '../src/transport/tcp/frame-reader.js'
import { decodeHello, encodeHello } from '../src/transport/tcp/hello.js'
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

  it('round-trips a hello and refuses malformed ones', () => {
    expect(decodeHello(encodeHello({ host: '::1', port: 4000 }))).toEqual({ host: '::1', port: 4000 })
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
