// A TCP fault-injection proxy for the multi-process fault tests. Put it in front of a node's cluster port and
// the tests can cut, slow, reset or refuse the traffic on command, without touching the nodes themselves. It
// is a plain byte pipe (it never parses the protocol) and it only ever listens on and connects to loopback.
//
// Faults can be limited to one source IP: a node whose cluster host is 127.0.0.2 binds its outbound
// connections to 127.0.0.2, so `socket.remoteAddress` tells which node a connection comes from.
import { once } from 'node:events'
import { connect, createServer, isIP, type Socket } from 'node:net'
import { performance } from 'node:perf_hooks'

export type Direction = 'to-target' | 'from-target' | 'both'
type Flow = 'to-target' | 'from-target'

export interface FaultOptions {
  /** Limit the fault to connections from this source IP; without it the fault applies to every connection. */
  from?: string
}

export interface FaultProxyStats {
  /** Connections open now (a connection counts until both of its sockets have closed). */
  connections: number
  /** Connections accepted and forwarded to the target (refused ones are not counted). */
  accepted: number
  bytesForwarded: { toTarget: number; fromTarget: number }
  /** Bytes discarded by a blackhole (bytes lost to a reset or to a dead socket are counted nowhere). */
  bytesDropped: { toTarget: number; fromTarget: number }
}

export interface FaultProxy {
  address: { host: string; port: number }
  /** Read and discard the bytes (and the FIN) of that direction; the connections stay open. Until heal(). */
  blackhole(direction: Direction, options?: FaultOptions): void
  /** Reset the matching connections on both sides (TCP RST); bytes the proxy still holds are lost. */
  reset(options?: FaultOptions): void
  /** While on, reset new connections right after accept. Off without `from` stops refusing every source. */
  refuse(on: boolean, options?: FaultOptions): void
  /** Hold every chunk `ms` before forwarding it, in order, per direction. 0 without `from` clears all delays. */
  delay(ms: number, options?: FaultOptions): void
  /** Remove every fault and release the chunks held by a delay now; open connections are kept. */
  heal(): void
  stats(): FaultProxyStats
  /** Stop listening and destroy every connection; resolves once every socket has closed. */
  close(): Promise<void>
}

/** One direction of one connection. */
interface Pump {
  release(): void
  stop(): void
}

interface Pair {
  from: string
  client: Socket
  upstream: Socket
  pumps: Pump[]
  closed: Promise<void>
}

const ALL = '*' // the key of faults set without `from`
// A delay holds chunks in memory: past this many bytes held, stop reading from the sender (backpressure).
const HELD_LIMIT = 1 << 20

const ignore = () => {}
// A server listening on an IPv6 socket reports IPv4 peers as ::ffff:a.b.c.d.
const normalize = (ip: string) => ip.replace(/^::ffff:/, '')

function assertLoopback(host: string): void {
  if (host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'))) return
  throw new Error(`fault-proxy: ${host} is not a loopback address (the proxy only listens on and connects to loopback)`)
}

export async function startFaultProxy({
  target,
  listenHost = '127.0.0.1',
  listenPort = 0,
}: {
  target: { host: string; port: number }
  listenHost?: string
  /** 0 picks a free port; a fixed one lets the proxy stand at the address a node advertises. */
  listenPort?: number
}): Promise<FaultProxy> {
  assertLoopback(target.host)
  assertLoopback(listenHost)

  const blackholes = new Map<string, Set<Flow>>()
  const refusing = new Set<string>()
  const delays = new Map<string, number>()
  const pairs = new Set<Pair>()
  const counts = { accepted: 0, bytesForwarded: { toTarget: 0, fromTarget: 0 }, bytesDropped: { toTarget: 0, fromTarget: 0 } }

  // Faults are looked up when a chunk arrives (delay) or leaves (blackhole), so they also hit new connections.
  const isBlackholed = (from: string, flow: Flow) => Boolean(blackholes.get(ALL)?.has(flow) || blackholes.get(from)?.has(flow))
  const delayFor = (from: string) => Math.max(delays.get(ALL) ?? 0, delays.get(from) ?? 0)
  const keyOf = (from?: string) => (from === undefined ? ALL : normalize(from))
  const matching = (from?: string) => [...pairs].filter((p) => from === undefined || p.from === normalize(from))

  /** Forward src to dst through a FIFO of chunks (null is the sender's FIN), each released at its due time. */
  function pump(from: string, flow: Flow, src: Socket, dst: Socket): Pump {
    const key = flow === 'to-target' ? 'toTarget' : 'fromTarget'
    const queue: Array<{ chunk: Buffer | null; due: number }> = []
    let held = 0
    let timer: NodeJS.Timeout | undefined
    // Backpressure: stop reading while the receiver's buffer is full or a delay holds too much.
    const throttle = () => (dst.writableNeedDrain || held > HELD_LIMIT ? src.pause() : src.resume())
    const deliver = (chunk: Buffer | null) => {
      if (isBlackholed(from, flow)) {
        // We already acked these bytes to the sender, so TCP will never retransmit them: they are gone.
        if (chunk) counts.bytesDropped[key] += chunk.length
      } else if (!dst.destroyed && !dst.writableEnded) {
        if (chunk === null) dst.end()
        else {
          counts.bytesForwarded[key] += chunk.length
          dst.write(chunk)
        }
      }
    }
    const flush = () => {
      clearTimeout(timer)
      timer = undefined
      // Loop on the clock rather than trusting the timer: timers may fire a little early.
      const now = performance.now()
      for (let head = queue[0]; head && head.due <= now; head = queue[0]) {
        queue.shift()
        held -= head.chunk?.length ?? 0
        deliver(head.chunk)
      }
      // A later chunk never overtakes the head (FIFO), even if the delay was shortened meanwhile.
      // unref: a held chunk must never keep the process alive.
      if (queue[0]) timer = setTimeout(flush, queue[0].due - now).unref()
      throttle()
    }
    const push = (chunk: Buffer | null) => {
      queue.push({ chunk, due: performance.now() + delayFor(from) })
      held += chunk?.length ?? 0
      flush()
    }
    src.on('data', push)
    src.on('end', () => push(null))
    dst.on('drain', throttle)
    return {
      release: () => {
        for (const item of queue) item.due = 0
        flush()
      },
      stop: () => {
        clearTimeout(timer)
        queue.length = 0
        held = 0
      },
    }
  }

  // allowHalfOpen: a FIN travels through like any byte, so each direction ends on its own.
  const server = createServer({ allowHalfOpen: true }, (client) => {
    client.on('error', ignore)
    const from = normalize(client.remoteAddress ?? '')
    if (refusing.has(ALL) || refusing.has(from)) {
      client.resetAndDestroy()
      return
    }
    counts.accepted++
    const upstream = connect({ host: target.host, port: target.port, allowHalfOpen: true })
    // The proxy must add no latency of its own: small cluster messages should not wait on Nagle.
    client.setNoDelay(true)
    upstream.setNoDelay(true)
    const pumps = [pump(from, 'to-target', client, upstream), pump(from, 'from-target', upstream, client)]
    // A broken side (ECONNRESET, EPIPE, target down) quietly tears down its pair.
    const teardown = () => {
      for (const p of pumps) p.stop()
      client.destroy()
      upstream.destroy()
    }
    client.on('error', teardown)
    upstream.on('error', teardown)
    let open = 2
    const closed = new Promise<void>((resolve) => {
      const onClose = () => {
        if (--open > 0) return
        for (const p of pumps) p.stop()
        pairs.delete(pair)
        resolve()
      }
      client.once('close', onClose)
      upstream.once('close', onClose)
    })
    const pair: Pair = { from, client, upstream, pumps, closed }
    pairs.add(pair)
  })

  server.listen(listenPort, listenHost)
  await once(server, 'listening') // rejects on a listen error
  server.on('error', ignore) // e.g. EMFILE on accept: the proxy must never crash the test process
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0

  return {
    address: { host: listenHost, port },
    blackhole(direction, { from } = {}) {
      const flows = blackholes.get(keyOf(from)) ?? new Set<Flow>()
      if (direction !== 'from-target') flows.add('to-target')
      if (direction !== 'to-target') flows.add('from-target')
      blackholes.set(keyOf(from), flows)
    },
    reset({ from } = {}) {
      for (const pair of matching(from)) {
        for (const p of pair.pumps) p.stop() // bytes in flight are lost, as with a real reset
        for (const s of [pair.client, pair.upstream]) if (!s.destroyed) s.resetAndDestroy()
      }
    },
    refuse(on, { from } = {}) {
      if (on) refusing.add(keyOf(from))
      else if (from === undefined) refusing.clear()
      else refusing.delete(keyOf(from))
    },
    delay(ms, { from } = {}) {
      if (!(ms >= 0 && Number.isFinite(ms))) throw new Error(`fault-proxy: bad delay ${ms}`)
      if (ms > 0) delays.set(keyOf(from), ms)
      else if (from === undefined) delays.clear()
      else delays.delete(keyOf(from))
    },
    heal() {
      blackholes.clear()
      refusing.clear()
      delays.clear()
      for (const pair of pairs) for (const p of pair.pumps) p.release()
    },
    stats: () => ({
      connections: pairs.size,
      accepted: counts.accepted,
      bytesForwarded: { ...counts.bytesForwarded },
      bytesDropped: { ...counts.bytesDropped },
    }),
    async close() {
      const open = [...pairs]
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()))
      for (const pair of open) {
        for (const p of pair.pumps) p.stop()
        pair.client.destroy()
        pair.upstream.destroy()
      }
      await Promise.all([stopped, ...open.map((p) => p.closed)])
    },
  }
}
