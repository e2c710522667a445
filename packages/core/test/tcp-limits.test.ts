import { connect, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { aesGcmProtector } from '../src/crypto/index.js'
import { ManualClock } from '../src/clock/manual-clock.js'
import { Metrics } from '../src/metrics.js'
import { tcpTransport } from '../src/transport/tcp/index.js'
import type { Transport } from '../src/transport/transport.js'
import { eventually } from './support/processes.js'

const protector = () => aesGcmProtector({ secret: 'limits-test-secret-0123456789', clusterName: 'limits' })
const sockets: Socket[] = []
const transports: Transport[] = []
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy()
  for (const t of transports.splice(0)) await t.stop()
})

async function server(limits: { maxPendingConnections?: number; maxPendingConnectionsPerSource?: number } = {}) {
  const metrics = new Metrics()
  const t = tcpTransport({ port: 0, protector: protector(), metrics, ...limits })
  await t.start()
  transports.push(t)
  return { t, metrics }
}

function open(port: number, localAddress = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, localAddress }, () => resolve(s))
    s.resume() // read the greeting, so the server's close is seen
    s.on('error', reject)
    sockets.push(s)
  })
}

async function stillServes(receiver: Transport): Promise<boolean> {
  const sender = tcpTransport({ port: 0, protector: protector() })
  transports.push(sender)
  await sender.start()
  let got = false
  receiver.onFrame(() => {
    got = true
  })
  // Transport delivery is best effort: a frame written into a connection the server refused is lost, so retry.
  return eventually(() => {
    if (!got) sender.send(receiver.address, new Uint8Array([1, 2, 3]))
    return got
  }, { intervalMs: 100 })
}

describe('tcp transport limits on unauthenticated peers', () => {
  it('refuses a first frame larger than a hello before buffering it', async () => {
    const { t, metrics } = await server()
    const s = await open(t.address.port)
    const prefix = Buffer.alloc(4)
    prefix.writeUInt32BE(1024 * 1024)
    s.write(prefix)
    const closed = new Promise((resolve) => s.on('close', resolve))
    await closed
    expect(metrics.get('transport.rejected.frame-too-large')).toBe(1)
    expect(await stillServes(t)).toBe(true)
  })

  it('bounds how many connections may wait without a hello by closing the oldest, per source and in total', async () => {
    const { t, metrics } = await server({ maxPendingConnections: 8, maxPendingConnectionsPerSource: 4 })
    const closed = new Set<Socket>()
    const openTracked = async (source: string) => {
      const s = await open(t.address.port, source)
      s.on('close', () => closed.add(s))
      return s
    }
    const fromOne: Socket[] = []
    for (let i = 0; i < 6; i++) fromOne.push(await openTracked('127.0.0.1'))
    // The source's two oldest make room for its newest.
    expect(await eventually(() => metrics.get('transport.admission.source-cap') === 2)).toBe(true)
    expect(await eventually(() => closed.size === 2)).toBe(true)
    expect([...closed]).toEqual(fromOne.slice(0, 2))
    const others: Socket[] = []
    for (const source of ['127.0.0.3', '127.0.0.3', '127.0.0.4', '127.0.0.4', '127.0.0.5']) others.push(await openTracked(source))
    // Nine waiting for a cap of eight: the busiest source (127.0.0.1, four) loses its oldest.
    expect(await eventually(() => metrics.get('transport.admission.evicted') === 1)).toBe(true)
    expect(await eventually(() => closed.has(fromOne[2]!))).toBe(true)
    expect(others.some((s) => closed.has(s))).toBe(false)
    // A peer with the key gets in while the idle sockets are still open.
    expect(await stillServes(t)).toBe(true)
    expect(others.some((s) => closed.has(s))).toBe(false)
  })

  it('closes a connection that sends no hello within helloTimeoutMs, and counts it', async () => {
    const metrics = new Metrics()
    const t = tcpTransport({ port: 0, protector: protector(), metrics, helloTimeoutMs: 100 })
    transports.push(t)
    await t.start()
    const s = await open(t.address.port)
    s.write(Buffer.from([0, 0, 1])) // the start of a length prefix, then nothing
    await new Promise((resolve) => s.on('close', resolve))
    expect(metrics.get('transport.admission.hello-deadline')).toBe(1)
  })
})

describe('tcp transport forget', () => {
  it('stops dialling a departed peer and drops its queue (a control peer keeps redialling)', async () => {
    const gone = tcpTransport({ port: 0, protector: protector() })
    await gone.start()
    const address = gone.address
    await gone.stop() // nobody listens there any more
    const clock = new ManualClock()
    const make = async () => {
      const metrics = new Metrics()
      const t = tcpTransport({ port: 0, protector: protector(), metrics, clock })
      transports.push(t)
      await t.start()
      t.send(address, new Uint8Array(1024))
      expect(await eventually(() => metrics.get('transport.connections.failed') === 1)).toBe(true)
      return { t, metrics }
    }
    const forgetting = await make()
    const control = await make()
    forgetting.t.forget(address)
    for (let i = 0; i < 20; i++) {
      await clock.advance(500) // backoff timers fire; the redials are real connects, so let them fail
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    expect(forgetting.metrics.get('transport.connections.failed')).toBe(1)
    expect(control.metrics.get('transport.connections.failed')).toBeGreaterThan(3)
  })
})
