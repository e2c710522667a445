// Loopback port helpers for the demo.
import { createServer } from 'node:net'

const handedOut = new Set()

/** Resolves true when `port` can be bound on 127.0.0.1 right now. */
export function isPortFree(port) {
  return new Promise((resolve) => {
    const server = createServer()
    server.unref()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

/** A port the OS reports free on 127.0.0.1, never one this process already handed out. */
export async function freePort() {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await new Promise((resolve, reject) => {
      const server = createServer()
      server.unref()
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address()
        server.close(() => resolve(port))
      })
    })
    if (!handedOut.has(port)) {
      handedOut.add(port)
      return port
    }
  }
  throw new Error('no free port found')
}

/**
 * The next free port at or after `from` (skipping ports already handed out), for a fixed base given by
 * the environment: DEMO_NODE_PORT=3001 gives 3001, 3002, 3003, then 3004 for an added node...
 */
export async function nextFreePortFrom(from) {
  for (let port = from; port < Math.min(from + 200, 65536); port++) {
    if (handedOut.has(port)) continue
    if (await isPortFree(port)) {
      handedOut.add(port)
      return port
    }
  }
  throw new Error(`no free port in ${from}..${from + 199}`)
}

/** Listen on 127.0.0.1:`port`; rejects (and leaves no error listener behind) when the bind fails. */
export function listenOnLoopback(server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
}

/** Mark a port as taken (one given explicitly), so the helpers above never hand it out. */
export function reservePort(port) {
  handedOut.add(port)
}

/** Parse an optional port variable: undefined when unset, an Error message when invalid. */
export function portFromEnv(env, name) {
  const raw = env[name]
  if (raw === undefined || raw === '') return undefined
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`${name} must be a port number 1..65535, got "${raw}"`)
  return n
}
