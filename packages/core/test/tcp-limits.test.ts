import { connect, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { aesGcmProtector } from '../src/crypto/index.js'
import { ManualClock } from '../src/clock/manual-clock.js'
import { Metrics } from '../src/metrics.js'
import { MAX_UNINTRODUCED_CONNECTIONS } from '../src/transport/tcp/tcp-transport.js'
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

async function server() {
  const metrics = new Metrics()
  const t = tcpTransport({ port: 0, protector: protector(), metrics })
  await t.start()
  transports.push(t)
  return { t, metrics }
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port }, () => resolve(s))
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

  it('bounds how many connections may wait without a hello', async () => {
    const { t, metrics } = await server()
    for (let i = 0; i < MAX_UNINTRODUCED_CONNECTIONS + 5; i++) await open(t.address.port)
    expect(await eventually(() => metrics.get('transport.rejected.too-many-connections') === 5)).toBe(true)
    // an authenticated peer is still accepted once the idle ones go away
    for (const s of sockets.splice(0)) s.destroy()
    expect(await stillServes(t)).toBe(true)
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
