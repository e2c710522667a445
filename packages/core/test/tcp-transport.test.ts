import { createServer } from 'node:net'
import { describe, expect, it } from 'vitest'
import { ManualClock } from '../src/clock/manual-clock.js'
import { aesGcmProtector } from '../src/crypto/aes-gcm-protector.js'
import type { FrameProtector } from '../src/crypto/frame-protector.js'
import { plaintextProtector } from '../src/crypto/plaintext-protector.js'
import { InsecureConfigurationError, InvalidParametersError } from '../src/errors.js'
import type { Logger } from '../src/logger.js'
import type { Address } from '../src/member.js'
import { Metrics } from '../src/metrics.js'
import { tcpTransport } from '../src/transport/tcp/index.js'
import type { TcpTransportInit } from '../src/transport/tcp/options.js'

const protector = plaintextProtector()
const encrypted = () => aesGcmProtector({ secret: 'tcp secret', clusterName: 'tcp' })

describe('tcpTransport construction', () => {
  it.each([-1, 65536, 1.5, Number.NaN, '4000' as unknown as number])('refuses port %s', (port) => {
    expect(() => tcpTransport({ protector, port })).toThrow(InvalidParametersError)
  })

  it.each(['', 'not a host!', 'exa mple.com', '-bad.example'])('refuses host %j', (host) => {
    expect(() => tcpTransport({ protector, host })).toThrow(InvalidParametersError)
  })

  it('refuses a missing protector, a bad limit, and a wildcard host without advertiseHost', () => {
    expect(() => tcpTransport({} as TcpTransportInit)).toThrow(InvalidParametersError)
    expect(() => tcpTransport({ protector, maxFrameBytes: 0 })).toThrow(InvalidParametersError)
    expect(() => tcpTransport({ protector: encrypted(), host: '0.0.0.0' })).toThrow(InvalidParametersError)
  })

  it('refuses plaintext on a non-loopback host or advertised host', () => {
    expect(() => tcpTransport({ protector, host: '10.0.0.1' })).toThrow(InsecureConfigurationError)
    expect(() => tcpTransport({ protector, host: '127.0.0.1', advertiseHost: 'node2.internal' })).toThrow(InsecureConfigurationError)
    expect(() => tcpTransport({ protector, host: '0.0.0.0', advertiseHost: '10.0.0.1' })).toThrow(/secret/)
  })

  it('accepts encryption anywhere, and plaintext on loopback', () => {
    expect(() => tcpTransport({ protector: encrypted(), host: '10.0.0.1' })).not.toThrow()
    expect(() => tcpTransport({ protector, host: '::1' })).not.toThrow()
    expect(() => tcpTransport({ protector, host: 'localhost' })).not.toThrow()
  })

  it('allows plaintext off loopback with insecure: true, and warns loudly at start', async () => {
    const warnings: string[] = []
    const logger = { ...quietLogger(), warn: (msg: string) => warnings.push(msg) }
    const transport = tcpTransport({ protector, port: 0, advertiseHost: '10.0.0.5', insecure: true, logger })
    await transport.start()
    await transport.stop()
    expect(warnings.some((w) => w.includes('INSECURE'))).toBe(true)
  })
})

describe('tcpTransport lifecycle', () => {
  it('advertises the real port after starting on port 0', async () => {
    const transport = tcpTransport({ protector, port: 0 })
    await transport.start()
    expect(transport.address.host).toBe('127.0.0.1')
    expect(transport.address.port).toBeGreaterThan(0)
    await transport.stop()
  })

  it('fails start when the port is taken, and can start after it is free', async () => {
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    const port = (blocker.address() as { port: number }).port
    const transport = tcpTransport({ protector, port })
    await expect(transport.start()).rejects.toThrow(/EADDRINUSE/)
    await new Promise((resolve) => blocker.close(resolve))
    await transport.start()
    expect(transport.address.port).toBe(port)
    await transport.stop()
  })

  it('leaves no sockets, servers or timers behind after stop', async () => {
    // Handles closed by earlier tests linger until libuv's close callbacks run: let them go first.
    await new Promise((resolve) => setTimeout(resolve, 20))
    const before = tcpHandles()
    const clock = new ManualClock()
    const [a, b] = [0, 1].map(() => tcpTransport({ protector: encrypted(), port: 0, clock }))
    await Promise.all([a!.start(), b!.start()])
    const got: string[] = []
    a!.onFrame((_, frame) => got.push(Buffer.from(frame).toString()))
    b!.onFrame((_, frame) => got.push(Buffer.from(frame).toString()))
    a!.send(b!.address, Buffer.from('a→b'))
    b!.send(a!.address, Buffer.from('b→a'))
    await waitFor(() => got.length === 2)
    expect(tcpHandles()).toBeGreaterThan(before)
    await Promise.all([a!.stop(), b!.stop()])
    await waitFor(() => tcpHandles() <= before)
    expect(clock.pendingTimers).toBe(0)
  })

  it('stops cleanly while a peer is unreachable and a reconnect is pending', async () => {
    const clock = new ManualClock()
    const a = tcpTransport({ protector, port: 0, clock })
    await a.start()
    const down: Address[] = []
    a.on('peerDown', (peer) => down.push(peer))
    a.send({ host: '127.0.0.1', port: await freePort() }, Buffer.from('nobody home'))
    await waitFor(() => down.length === 1)
    expect(clock.pendingTimers).toBeGreaterThan(0)
    await a.stop()
    expect(clock.pendingTimers).toBe(0)
  })
})

describe('tcpTransport behaviour', () => {
  it('reports peerDown when a peer goes away and peerUp when it is back, then delivers', async () => {
    const a = fast({ protector: encrypted() })
    const b = fast({ protector: encrypted() })
    await Promise.all([a.start(), b.start()])
    const events: string[] = []
    a.on('peerUp', () => events.push('up'))
    a.on('peerDown', () => events.push('down'))
    const atB: string[] = []
    b.onFrame((_, f) => atB.push(Buffer.from(f).toString()))
    a.send(b.address, Buffer.from('one'))
    await waitFor(() => atB.length === 1)
    await b.stop()
    await waitFor(() => events.includes('down'))
    const b2 = fast({ protector: encrypted(), port: b.address.port })
    const atB2: string[] = []
    b2.onFrame((_, f) => atB2.push(Buffer.from(f).toString()))
    a.send(b.address, Buffer.from('two'))
    await b2.start()
    await waitFor(() => atB2.length === 1)
    expect(atB2).toEqual(['two'])
    expect(events).toEqual(['up', 'down', 'up'])
    await Promise.all([a.stop(), b2.stop()])
  })

  it('refuses frames beyond maxQueueBytes with send() === false and a counted queue-full rejection', async () => {
    const metrics = new Metrics()
    const a = fast({ protector, maxQueueBytes: 1000, metrics })
    await a.start()
    const reasons: string[] = []
    a.on('rejected', ({ reason }) => reasons.push(reason))
    const nowhere = { host: '127.0.0.1', port: await freePort() }
    const results = Array.from({ length: 12 }, () => a.send(nowhere, new Uint8Array(100)))
    expect(results).toEqual([...Array(10).fill(true), false, false])
    expect(reasons).toEqual(['queue-full', 'queue-full'])
    expect(metrics.get('transport.rejected.queue-full')).toBe(2)
    await a.stop()
  })

  it('refuses a frame larger than maxFrameBytes at send', async () => {
    const a = fast({ protector, maxFrameBytes: 4096 })
    await a.start()
    const reasons: string[] = []
    a.on('rejected', ({ reason }) => reasons.push(reason))
    expect(a.send(a.address, new Uint8Array(5000))).toBe(false)
    expect(reasons).toEqual(['frame-too-large'])
    await a.stop()
  })

  it('survives a throwing frame handler and a throwing event listener, counting both', async () => {
    const metrics = new Metrics()
    const a = fast({ protector })
    const b = fast({ protector, metrics })
    await Promise.all([a.start(), b.start()])
    const got: string[] = []
    b.onFrame((_, f) => {
      const text = Buffer.from(f).toString()
      if (text === 'boom') throw new Error('handler bug')
      got.push(text)
    })
    b.on('rejected', () => {
      throw new Error('listener bug')
    })
    a.send(b.address, Buffer.from('boom'))
    a.send(b.address, Buffer.from('after'))
    await waitFor(() => got.length === 1)
    expect(metrics.get('transport.handler.errors')).toBe(1)
    expect(b.send(b.address, new Uint8Array(20 * 1024 * 1024))).toBe(false)
    expect(metrics.get('transport.listener.errors')).toBe(1)
    await Promise.all([a.stop(), b.stop()])
  })

  it('coalesces frames sent in one turn into few socket writes', async () => {
    const metrics = new Metrics()
    const a = fast({ protector, metrics })
    const b = fast({ protector })
    await Promise.all([a.start(), b.start()])
    let count = 0
    b.onFrame(() => count++)
    for (let i = 0; i < 5000; i++) a.send(b.address, new Uint8Array(64))
    await waitFor(() => count === 5000)
    expect(metrics.get('transport.frames.sent')).toBe(5000)
    expect(metrics.get('transport.writes')).toBeLessThanOrEqual(3)
    await Promise.all([a.stop(), b.stop()])
  })
})

function fast(init: Partial<TcpTransportInit> & { protector: FrameProtector }) {
  return tcpTransport({ port: 0, reconnectInitialDelayMs: 20, reconnectMaxDelayMs: 100, ...init })
}

function quietLogger(): Logger {
  const noop = () => {}
  return { debug: noop, info: noop, warn: noop, error: noop }
}

function tcpHandles(): number {
  return process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP')).length
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  await new Promise((resolve) => server.close(resolve))
  return port
}

async function waitFor(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}
