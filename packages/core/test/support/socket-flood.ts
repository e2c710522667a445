import { connect, type Socket } from 'node:net'

export interface SocketFloodInit {
  host: string
  port: number
  /** Source addresses the sockets leave from (any 127.x.y.z works on loopback), used in turn. */
  sources: readonly string[]
  /** Sockets that connect and send nothing. */
  idle: number
  /** Sockets that send the first bytes of a record (a length prefix and a little of its body), then nothing. */
  slowHello: number
  /** A socket the server closed is opened again after this long, so the pressure holds. */
  reopenDelayMs: number
}

export interface SocketFlood {
  /** Sockets currently connected. */
  readonly open: number
  /** Connections the server closed on us. */
  readonly closedByServer: number
  /** Connections opened since the flood began. */
  readonly opened: number
  stop(): void
}

/**
 * An attacker without the cluster secret holding many unauthenticated connections open against one listening port:
 * each slot reconnects after the server closes it, for as long as the flood runs.
 */
export function socketFlood(init: SocketFloodInit): SocketFlood {
  const live = new Set<Socket>()
  const timers = new Set<NodeJS.Timeout>()
  let stopped = false
  let closedByServer = 0
  let opened = 0
  let nextSource = 0

  const slot = (slow: boolean) => {
    if (stopped) return
    const localAddress = init.sources[nextSource++ % init.sources.length]!
    const socket = connect({ host: init.host, port: init.port, localAddress })
    socket.on('connect', () => {
      opened++
      live.add(socket)
      // A length prefix that promises a record, and only a few bytes of it.
      if (slow) socket.write(Buffer.from([0, 0, 1, 0, 0x42, 0x42, 0x42]))
    })
    socket.resume() // read (and drop) the greeting, so the server's close is seen
    socket.on('error', () => {})
    socket.on('close', () => {
      if (live.delete(socket) && !stopped) closedByServer++
      if (stopped) return
      const timer = setTimeout(() => {
        timers.delete(timer)
        slot(slow)
      }, init.reopenDelayMs)
      timers.add(timer)
    })
  }

  for (let i = 0; i < init.idle; i++) slot(false)
  for (let i = 0; i < init.slowHello; i++) slot(true)
  return {
    get open() {
      return live.size
    },
    get closedByServer() {
      return closedByServer
    },
    get opened() {
      return opened
    },
    stop() {
      stopped = true
      for (const timer of timers) clearTimeout(timer)
      timers.clear()
      for (const socket of live) socket.destroy()
      live.clear()
    },
  }
}
