import { createServer } from 'node:net'

// Ports handed out by this process, so two calls never return the same one before it is bound.
const handedOut = new Set<number>()

/**
 * A TCP port on 127.0.0.1 the OS reports free right now. Another process can still take it before we bind
 * it: callers that spawn servers retry on EADDRINUSE (see `startCluster` and `startNginx`).
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer()
      server.unref()
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => {
        const address = server.address()
        const p = typeof address === 'object' && address ? address.port : 0
        server.close(() => resolve(p))
      })
    })
    if (!handedOut.has(port)) {
      handedOut.add(port)
      return port
    }
  }
  throw new Error('freePort: the OS keeps returning ports this process already handed out')
}

export async function freePorts(n: number): Promise<number[]> {
  const ports: number[] = []
  for (let i = 0; i < n; i++) ports.push(await freePort())
  return ports
}
