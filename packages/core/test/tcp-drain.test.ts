import { describe, expect, it } from 'vitest'
import { aesGcmProtector } from '../src/crypto/index.js'
import { tcpTransport } from '../src/transport/tcp/index.js'
import { eventually } from './support/processes.js'

describe('tcp transport stop', () => {
  it('flushes frames queued just before stop to connected peers (graceful SIGTERM loses nothing)', async () => {
    const protector = () => aesGcmProtector({ secret: 'drain-test-secret-0123456789', clusterName: 'drain' })
    const sender = tcpTransport({ port: 0, protector: protector() })
    const receiver = tcpTransport({ port: 0, protector: protector() })
    const received: number[] = []
    receiver.onFrame((_from, frame) => received.push(Buffer.from(frame).readUInt32BE(0)))
    await sender.start()
    await receiver.start()
    const frame = (i: number) => {
      const b = Buffer.alloc(1024)
      b.writeUInt32BE(i)
      return b
    }
    sender.send(receiver.address, frame(0))
    expect(await eventually(() => received.length === 1)).toBe(true)
    for (let i = 1; i <= 2_000; i++) sender.send(receiver.address, frame(i))
    await sender.stop()
    expect(await eventually(() => received.length === 2_001)).toBe(true)
    expect(received).toEqual(Array.from({ length: 2_001 }, (_, i) => i))
    await receiver.stop()
  })
})
