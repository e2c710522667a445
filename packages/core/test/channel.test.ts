import { describe, expect, it } from 'vitest'
import { Channel } from '../src/channel/channel.js'
import type { Interceptor } from '../src/channel/interceptor.js'
import { ManualClock } from '../src/clock/manual-clock.js'
import { cborCodec } from '../src/codec/cbor-codec.js'
import { PeerBusyError } from '../src/errors.js'
import { MemoryNetwork } from '../src/transport/memory/memory-network.js'
import { memoryTransport } from '../src/transport/memory/memory-transport.js'

async function pair(interceptors: Interceptor[] = []) {
  const clock = new ManualClock()
  const network = new MemoryNetwork({ clock })
  const a = new Channel({ transport: memoryTransport({ network }), clock, ackTimeoutMs: 1_000 })
  const b = new Channel({ transport: memoryTransport({ network }), clock, interceptors })
  await a.start()
  await b.start()
  return { clock, network, a, b }
}

describe('channel', () => {
  it('an ack send resolves only after the receiver applied the message', async () => {
    const { a, b } = await pair()
    const applied: number[] = []
    b.handle('put', async (m) => {
      await new Promise((r) => setImmediate(r))
      applied.push(m.n as number)
    })
    const report = await a.send(b.address, { t: 'put', n: 7 }, { delivery: 'ack' })
    expect(applied).toEqual([7])
    expect(report.delivered).toEqual([b.address])
    expect(report.failed).toEqual([])
  })

  it('async sends arrive in order per peer', async () => {
    const { clock, a, b } = await pair()
    const seen: number[] = []
    b.handle('n', (m) => void seen.push(m.n as number))
    for (let n = 0; n < 500; n++) await a.send(b.address, { t: 'n', n })
    await clock.advanceUntil(() => seen.length === 500)
    expect(seen).toEqual(Array.from({ length: 500 }, (_, i) => i))
  })

  it('an unanswered ack fails with ReplicationTimeoutError after ackTimeoutMs, and is counted', async () => {
    const { clock, network, a, b } = await pair()
    b.handle('put', () => {})
    network.partition([a.address], [b.address])
    const sending = a.send(b.address, { t: 'put' }, { delivery: 'ack' })
    await clock.advance(1_001)
    const report = await sending
    expect(report.failed[0]?.error.name).toBe('ReplicationTimeoutError')
    expect(a.metrics.get('channel.ack-timeouts')).toBe(1)
  })

  it('a message of unknown type is answered with a failure, not dropped silently', async () => {
    const { a, b } = await pair()
    const report = await a.send(b.address, { t: 'nobody-handles-this' }, { delivery: 'ack' })
    expect(report.failed[0]?.error.name).toBe('RemoteApplyError')
    expect(report.failed[0]?.error.message).toMatch(/no handler/)
    expect(b.metrics.get('channel.malformed')).toBe(1)
  })

  it('a handler error travels back as RemoteApplyError', async () => {
    const { a, b } = await pair()
    b.handle('boom', () => {
      throw new Error('disk on fire')
    })
    const report = await a.send(b.address, { t: 'boom' }, { delivery: 'ack' })
    expect(report.failed[0]?.error.message).toMatch(/disk on fire/)
  })

  it('a refusal for now travels back as PeerBusyError, counted but not logged as a handler failure', async () => {
    const { a, b } = await pair()
    b.handleRequest('work', () => {
      throw new PeerBusyError('over its records budget (10/s): retry in 100 ms')
    })
    const refused = a.request(b.address, { t: 'work' })
    await expect(refused).rejects.toBeInstanceOf(PeerBusyError)
    await expect(refused).rejects.toThrow(/is busy: over its records budget/)
    expect(b.metrics.get('channel.refused-busy')).toBe(1)
    expect(b.metrics.get('channel.handler-errors')).toBe(0)
  })

  it('request/response', async () => {
    const { a, b } = await pair()
    b.handleRequest('add', (m) => ({ t: 'sum', v: (m.x as number) + (m.y as number) }))
    await expect(a.request(b.address, { t: 'add', x: 2, y: 3 })).resolves.toEqual({ t: 'sum', v: 5 })
  })

  it('garbage and unsupported versions are counted and never throw', async () => {
    const { clock, a, b } = await pair()
    const codec = cborCodec()
    a.transport.send(b.address, new Uint8Array([1, 2, 3, 255]))
    a.transport.send(b.address, codec.encode([99, 0, 0, codec.encode({ t: 'x' })]))
    a.transport.send(b.address, codec.encode({ not: 'an envelope' }))
    await clock.advance(10)
    expect(b.metrics.get('channel.malformed')).toBe(3)
  })

  it('interceptors see messages and can drop them', async () => {
    const seen: string[] = []
    const { clock, a, b } = await pair([
      { name: 'spy', onReceive: (m) => void seen.push(m.t) },
      { name: 'drop-secret', onReceive: (m) => m.t !== 'secret' },
    ])
    const handled: string[] = []
    b.handle('hello', (m) => void handled.push(m.t))
    b.handle('secret', (m) => void handled.push(m.t))
    await a.send(b.address, { t: 'hello' }, { delivery: 'ack' })
    const dropped = a.send(b.address, { t: 'secret' }, { delivery: 'ack', timeoutMs: 50 })
    await clock.advance(60)
    expect((await dropped).failed[0]?.error.name).toBe('ReplicationTimeoutError')
    expect(seen).toEqual(['hello', 'secret'])
    expect(handled).toEqual(['hello'])
    expect(b.metrics.get('channel.intercepted')).toBe(1)
  })

  it('an abort signal cancels a pending exchange', async () => {
    const { network, a, b } = await pair()
    network.partition([a.address], [b.address])
    const controller = new AbortController()
    const pending = a.request(b.address, { t: 'x' }, { signal: controller.signal })
    controller.abort()
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' })
  })
})
