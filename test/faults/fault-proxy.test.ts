// The fault-injection proxy of test/support/fault-proxy.ts, over real loopback sockets: a client (bound to
// 127.0.0.1 or 127.0.0.2, as the cluster nodes are) talks through the proxy to a target that records what each
// of its connections received. Every wait is a bounded poll; no assertion depends on an upper timing bound.
import { once } from 'node:events'
import { connect, createServer, Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.js'
import { waitFor } from '../support/wait.js'

/** One end of a connection: what it received so far, and how it closed (the error, if any). */
interface Peer {
  socket: Socket
  text(): string
  ended: Promise<void>
  closed: Promise<NodeJS.ErrnoException | undefined>
}

function peer(socket: Socket): Peer {
  let text = ''
  let error: NodeJS.ErrnoException | undefined
  socket.setEncoding('latin1')
  socket.on('data', (chunk: string) => (text += chunk))
  socket.on('error', (err) => (error = err))
  const ended = new Promise<void>((resolve) => socket.once('end', resolve))
  const closed = new Promise<NodeJS.ErrnoException | undefined>((resolve) => socket.once('close', () => resolve(error)))
  return { socket, text: () => text, ended, closed }
}

const until = (what: string, probe: () => boolean) => waitFor(what, () => probe() || undefined, { timeoutMs: 3_000, intervalMs: 5 })

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  vi.restoreAllMocks()
  while (cleanups.length > 0) await cleanups.pop()!()
})

/** The proxy's target: records every connection it accepts (allowHalfOpen, so a test decides when it ends). */
async function startTarget() {
  const accepted: Peer[] = []
  const server = createServer({ allowHalfOpen: true }, (socket) => accepted.push(peer(socket)))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  const close = async () => {
    for (const p of accepted) p.socket.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  cleanups.push(close)
  /** The target's i-th accepted connection, once it exists. */
  const nth = (i: number) => waitFor(`the target's connection #${i}`, () => accepted[i], { timeoutMs: 3_000, intervalMs: 5 })
  return { port, accepted, nth, close }
}

async function setup() {
  const target = await startTarget()
  const proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: target.port } })
  cleanups.push(() => proxy.close())
  return { target, proxy }
}

/** A client of the proxy, optionally from another loopback source IP (half-open allowed, as the target). */
function openClient(proxy: FaultProxy, localAddress?: string): Peer {
  const socket = connect({ host: proxy.address.host, port: proxy.address.port, localAddress, allowHalfOpen: true })
  cleanups.push(async () => {
    socket.destroy()
    if (!socket.closed) await once(socket, 'close')
  })
  return peer(socket)
}

/** A client connected through the proxy. */
async function dial(proxy: FaultProxy, localAddress?: string): Promise<Peer> {
  const p = openClient(proxy, localAddress)
  await once(p.socket, 'connect')
  return p
}

/** A client and the target's side of its connection (clients must be dialled one at a time for the index). */
async function pair(proxy: FaultProxy, target: Awaited<ReturnType<typeof startTarget>>, localAddress?: string) {
  const index = target.accepted.length
  const client = await dial(proxy, localAddress)
  const server = await target.nth(index)
  return { client, server }
}

// A short timeout: a proxy bug mostly shows as a wait that never ends.
describe('fault proxy', { timeout: 5_000 }, () => {
  it('forwards bytes both ways and counts them', async () => {
    const { target, proxy } = await setup()
    expect(proxy.address.host).toBe('127.0.0.1')
    expect(proxy.address.port).toBeGreaterThan(0)
    const { client, server } = await pair(proxy, target)
    client.socket.write('ping')
    await until('ping at the target', () => server.text() === 'ping')
    server.socket.write('pong!')
    await until('pong at the client', () => client.text() === 'pong!')
    expect(proxy.stats()).toEqual({
      connections: 1,
      accepted: 1,
      bytesForwarded: { toTarget: 4, fromTarget: 5 },
      bytesDropped: { toTarget: 0, fromTarget: 0 },
    })
  })

  it('passes each FIN through on its own (half-close), then the connection closes on both sides', async () => {
    const { target, proxy } = await setup()
    const { client, server } = await pair(proxy, target)
    client.socket.end('last words')
    await server.ended
    expect(server.text()).toBe('last words')
    server.socket.end('reply after your FIN')
    await Promise.all([client.closed, server.closed])
    expect(client.text()).toBe('reply after your FIN')
    await until('the proxy to forget the connection', () => proxy.stats().connections === 0)
  })

  it('blackhole to-target drops the bytes to the target while the replies still flow, until heal', async () => {
    const { target, proxy } = await setup()
    const { client, server } = await pair(proxy, target)
    proxy.blackhole('to-target')
    client.socket.write('lost')
    // Once counted as dropped the bytes are gone for good: no need to wait and see that they never arrive.
    await until('4 bytes dropped', () => proxy.stats().bytesDropped.toTarget === 4)
    server.socket.write('still here')
    await until('the reply at the client', () => client.text() === 'still here')
    expect(server.text()).toBe('')
    proxy.heal()
    client.socket.write('after heal')
    await until('bytes after heal at the target', () => server.text() === 'after heal')
    expect(proxy.stats().bytesDropped).toEqual({ toTarget: 4, fromTarget: 0 })
  })

  it('blackhole from-target drops the replies while the requests still flow', async () => {
    const { target, proxy } = await setup()
    const { client, server } = await pair(proxy, target)
    proxy.blackhole('from-target')
    server.socket.write('lost reply')
    await until('10 bytes dropped', () => proxy.stats().bytesDropped.fromTarget === 10)
    client.socket.write('request')
    await until('the request at the target', () => server.text() === 'request')
    expect(client.text()).toBe('')
    expect(proxy.stats().bytesForwarded).toEqual({ toTarget: 7, fromTarget: 0 })
  })

  it('blackhole both cuts both ways, including the FIN, and the connection stays open', async () => {
    const { target, proxy } = await setup()
    const { client, server } = await pair(proxy, target)
    proxy.blackhole('both')
    client.socket.end('a')
    server.socket.write('b')
    await until('both bytes dropped', () => {
      const { bytesDropped } = proxy.stats()
      return bytesDropped.toTarget === 1 && bytesDropped.fromTarget === 1
    })
    expect([client.text(), server.text(), server.socket.readableEnded]).toEqual(['', '', false])
    expect(proxy.stats().connections).toBe(1)
  })

  it('from limits a blackhole to the connections of that source IP, new connections included', async () => {
    const { target, proxy } = await setup()
    const a = await pair(proxy, target, '127.0.0.1')
    const b = await pair(proxy, target, '127.0.0.2')
    expect([a.client.socket.localAddress, b.client.socket.localAddress]).toEqual(['127.0.0.1', '127.0.0.2'])
    proxy.blackhole('both', { from: '127.0.0.2' })
    b.client.socket.write('from b')
    await until('b dropped', () => proxy.stats().bytesDropped.toTarget === 6)
    a.client.socket.write('from a')
    a.server.socket.write('to a')
    await until('a both ways', () => a.server.text() === 'from a' && a.client.text() === 'to a')
    // A connection opened after the blackhole from the same source is cut too.
    const c = await pair(proxy, target, '127.0.0.2')
    c.client.socket.write('from c')
    await until('c dropped', () => proxy.stats().bytesDropped.toTarget === 12)
    expect([b.server.text(), c.server.text()]).toEqual(['', ''])
  })

  it('reset destroys the connections with an RST on both sides; new connections work after', async () => {
    const { target, proxy } = await setup()
    const first = await pair(proxy, target)
    first.client.socket.write('x')
    await until('x at the target', () => first.server.text() === 'x')
    proxy.reset()
    expect((await first.client.closed)?.code).toBe('ECONNRESET')
    expect((await first.server.closed)?.code).toBe('ECONNRESET')
    await until('no connection left', () => proxy.stats().connections === 0)
    const second = await pair(proxy, target)
    second.client.socket.write('again')
    await until('again at the target', () => second.server.text() === 'again')
    expect(proxy.stats()).toMatchObject({ connections: 1, accepted: 2 })
  })

  it('reset with from resets only that source IP', async () => {
    const { target, proxy } = await setup()
    const a = await pair(proxy, target, '127.0.0.1')
    const b = await pair(proxy, target, '127.0.0.2')
    proxy.reset({ from: '127.0.0.2' })
    expect((await b.client.closed)?.code).toBe('ECONNRESET')
    a.client.socket.write('a lives')
    await until('a still forwarded', () => a.server.text() === 'a lives')
    expect(a.client.socket.destroyed).toBe(false)
  })

  it('reset loses the bytes the proxy still holds', async () => {
    const { target, proxy } = await setup()
    const { client, server } = await pair(proxy, target)
    proxy.delay(60_000)
    client.socket.write('in flight')
    // Let the proxy read the bytes into its delay queue (if it is late, the reset drops them in the kernel).
    await new Promise((resolve) => setTimeout(resolve, 30))
    proxy.reset()
    await Promise.all([client.closed, server.closed])
    expect(server.text()).toBe('')
    expect(proxy.stats().bytesForwarded.toTarget).toBe(0)
  })

  it('refuse resets new connections right after accept, leaves open ones alone, and can be turned off', async () => {
    const { target, proxy } = await setup()
    const open = await pair(proxy, target)
    proxy.refuse(true)
    const refused = openClient(proxy)
    expect((await refused.closed)?.code).toBe('ECONNRESET')
    open.client.socket.write('still open')
    await until('the open connection still works', () => open.server.text() === 'still open')
    expect(target.accepted).toHaveLength(1)
    expect(proxy.stats()).toMatchObject({ connections: 1, accepted: 1 })
    proxy.refuse(false)
    const later = await pair(proxy, target)
    later.client.socket.write('welcome')
    await until('a new connection works again', () => later.server.text() === 'welcome')
  })

  it('refuse with from refuses only that source IP', async () => {
    const { target, proxy } = await setup()
    proxy.refuse(true, { from: '127.0.0.2' })
    const refused = openClient(proxy, '127.0.0.2')
    expect((await refused.closed)?.code).toBe('ECONNRESET')
    const other = await pair(proxy, target, '127.0.0.1')
    other.client.socket.write('ok')
    await until('the other source is forwarded', () => other.server.text() === 'ok')
    proxy.refuse(false, { from: '127.0.0.2' })
    const back = await pair(proxy, target, '127.0.0.2')
    back.client.socket.write('back')
    await until('127.0.0.2 is accepted again', () => back.server.text() === 'back')
  })

  it('delay holds every chunk at least the delay, in each direction', async () => {
    const { target, proxy } = await setup()
    const { client, server } = await pair(proxy, target)
    proxy.delay(80)
    let sent = performance.now()
    client.socket.write('slow request')
    await until('the request at the target', () => server.text() === 'slow request')
    expect(performance.now() - sent).toBeGreaterThanOrEqual(80)
    sent = performance.now()
    server.socket.write('slow reply')
    await until('the reply at the client', () => client.text() === 'slow reply')
    expect(performance.now() - sent).toBeGreaterThanOrEqual(80)
  })

  it('delay keeps the order of the chunks, even when the delay is shortened meanwhile', async () => {
    const { target, proxy } = await setup()
    const { client, server } = await pair(proxy, target)
    proxy.delay(150)
    client.socket.write('first,')
    // Let the proxy read 'first,' under the long delay (if it is late, both go undelayed: still in order).
    await new Promise((resolve) => setTimeout(resolve, 30))
    proxy.delay(0)
    for (const word of ['second,', 'third,', 'fourth']) client.socket.write(word)
    client.socket.end()
    await server.ended
    expect(server.text()).toBe('first,second,third,fourth')
  })

  it('delay with from delays only that source IP', async () => {
    const { target, proxy } = await setup()
    const a = await pair(proxy, target, '127.0.0.1')
    const b = await pair(proxy, target, '127.0.0.2')
    proxy.delay(60_000, { from: '127.0.0.2' })
    b.client.socket.write('held')
    a.client.socket.write('prompt')
    await until('the undelayed source at the target', () => a.server.text() === 'prompt')
    expect(b.server.text()).toBe('')
    proxy.heal()
    await until('heal releases the held bytes', () => b.server.text() === 'held')
  })

  it('heal removes every fault and keeps the connections', async () => {
    const { target, proxy } = await setup()
    const { client, server } = await pair(proxy, target)
    proxy.blackhole('both')
    proxy.delay(60_000)
    proxy.refuse(true)
    proxy.heal()
    client.socket.write('req')
    server.socket.write('res')
    await until('both ways', () => server.text() === 'req' && client.text() === 'res')
    const fresh = await pair(proxy, target)
    fresh.client.socket.write('new')
    await until('a new connection', () => fresh.server.text() === 'new')
    expect(proxy.stats()).toMatchObject({ connections: 2, accepted: 2, bytesDropped: { toTarget: 0, fromTarget: 0 } })
  })

  it('backpressure: stops reading from the sender while the receiver does not read, and loses nothing', async () => {
    const { target, proxy } = await setup()
    const { client, server } = await pair(proxy, target)
    const paused = new Set<Socket>()
    const realPause = Socket.prototype.pause
    vi.spyOn(Socket.prototype, 'pause').mockImplementation(function (this: Socket) {
      paused.add(this)
      return realPause.call(this)
    })
    // The proxy's side of the client's connection is the one whose peer is the client's local port.
    const proxyPaused = () => [...paused].some((s) => s.remotePort === client.socket.localPort)
    server.socket.pause() // the target stops reading: once the kernel buffers are full, so must the proxy
    // Send until the proxy pauses (a few MiB of kernel buffers on loopback), however large those buffers are.
    const chunk = Buffer.alloc(1 << 20, 'backpressure,')
    let sent = 0
    while (!proxyPaused()) {
      if (sent >= 64 << 20) throw new Error('the proxy never paused its sender')
      if (!client.socket.write(chunk)) await until('drain or pause', () => client.socket.writableLength === 0 || proxyPaused())
      sent += chunk.length
    }
    vi.restoreAllMocks()
    client.socket.end()
    server.socket.resume()
    await server.ended
    expect(server.text().length).toBe(sent)
    expect(server.text() === chunk.toString('latin1').repeat(sent / chunk.length)).toBe(true)
  })

  it('survives a broken side: a reset target or a target that is down tears down the pair quietly', async () => {
    const { target, proxy } = await setup()
    const { client, server } = await pair(proxy, target)
    server.socket.resetAndDestroy()
    await client.ended // the proxy closes its side; our half-open client then decides to close its own
    await until('no connection left', () => proxy.stats().connections === 0)
    await target.close()
    const orphan = await dial(proxy)
    await orphan.ended
    await until('no connection left', () => proxy.stats().connections === 0)
    expect(proxy.stats().accepted).toBe(2)
  })

  it('close stops listening, destroys every connection and leaves no socket or timer behind', async () => {
    const { target, proxy } = await setup()
    const { client, server } = await pair(proxy, target)
    // Track the proxy's timers: unref'd timers do not show in getActiveResourcesInfo.
    const live = new Set<NodeJS.Timeout>()
    const realSet = globalThis.setTimeout
    const realClear = globalThis.clearTimeout
    vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
      const timer: NodeJS.Timeout = realSet(() => {
        live.delete(timer)
        fn()
      }, ms)
      live.add(timer)
      return timer
    }) as typeof setTimeout)
    vi.spyOn(globalThis, 'clearTimeout').mockImplementation(((timer?: NodeJS.Timeout) => {
      if (timer) live.delete(timer)
      realClear(timer)
    }) as typeof clearTimeout)
    proxy.delay(60_000)
    client.socket.write('held when closing')
    await until('the proxy to hold the bytes in a timer', () => live.size > 0)
    await proxy.close()
    expect(live.size).toBe(0)
    vi.restoreAllMocks()
    await Promise.all([client.ended, server.ended])
    expect(proxy.stats().connections).toBe(0)
    const late = connect(proxy.address)
    const [err] = (await once(late, 'error')) as [NodeJS.ErrnoException]
    expect(err.code).toBe('ECONNREFUSED')
    if (!late.closed) await once(late, 'close')
    client.socket.destroy()
    await Promise.all([client.closed, target.close()])
    // libuv closes a handle a moment after its 'close' event; this test file opens no other TCP handle.
    await until('every TCP handle closed', () => !process.getActiveResourcesInfo().some((r) => r.startsWith('TCP')))
  })

  it('only works on loopback', async () => {
    await expect(startFaultProxy({ target: { host: '10.0.0.2', port: 4000 } })).rejects.toThrow(/not a loopback address/)
    await expect(startFaultProxy({ target: { host: '127.0.0.1', port: 4000 }, listenHost: '0.0.0.0' })).rejects.toThrow(/loopback/)
  })
})
