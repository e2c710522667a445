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

/**
 * A base port with `count` consecutive ports that nothing listens on now, for nodes that bind the first free port of
 * a range (autoBind). Picked at random below the ephemeral band so two test files rarely pick overlapping ranges;
 * a range taken meanwhile only moves a node to the next free port.
 */
export async function freePortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 12_000)
    const free = await Promise.all(Array.from({ length: count }, (_, i) => isFree(base + i)))
    if (free.every(Boolean)) return base
  }
  throw new Error(`freePortRange: no ${count} free consecutive ports found`)
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.unref()
    server.once('error', () => resolve(false))
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve(true)))
  })
}
