import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createSessionCluster, type SessionCluster, type SessionClusterInit } from '@session-cluster/core'
import express, { type Express } from 'express'
import { type ClusterSessionMiddleware, type ClusterSessionOptions, clusterSession } from '../../src/index.js'

declare module 'express-session' {
  interface SessionData {
    items: string[]
    [key: string]: unknown
  }
}

export interface TestNode {
  route: string
  app: Express
  server: Server
  sessions: ClusterSessionMiddleware
  cluster: SessionCluster
}

/** Free loopback ports: bind port 0, read the port, close (static members need each other's ports up front). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Server>((resolve, reject) => {
          const s = createServer()
          s.once('error', reject)
          s.listen(0, '127.0.0.1', () => resolve(s))
        }),
    ),
  )
  const ports = servers.map((s) => (s.address() as AddressInfo).port)
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))))
  return ports
}

import { SECRET, waitFor } from '../../../core/test/support/adapter-tests.js'
import { FAST_CLUSTER } from '../../../core/test/support/fast-cluster.js'

export { FAST_CLUSTER }
export { idOf, SECRET, sessionMessagesSent, waitFor } from '../../../core/test/support/adapter-tests.js'

/** A cart app with the example contract's routes (root README) plus regenerate/destroy/reload. */
export function cartApp(route: string, sessions: ClusterSessionMiddleware): Express {
  const app = express()
  app.use(sessions)
  const body = (req: express.Request) => {
    const attrs: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(req.session ?? {})) if (k !== 'cookie') attrs[k] = v
    return { node: route, sessionId: req.sessionID, originalId: req.sessionOriginalId, items: req.session?.items ?? [], attrs }
  }
  app.get('/cart', (req, res) => {
    const add = req.query.add
    if (typeof add === 'string') {
      req.session.items ??= []
      req.session.items.push(add)
    }
    res.json(body(req))
  })
  app.get('/attr', (req, res) => {
    const { key, value } = req.query
    if (typeof key === 'string' && typeof value === 'string') req.session[key] = value
    res.json(body(req))
  })
  app.get('/regenerate', (req, res, next) => {
    req.session.regenerate((err) => (err ? next(err) : res.json(body(req))))
  })
  app.get('/destroy', (req, res, next) => {
    req.session.destroy((err) => (err ? next(err) : res.json({ node: route, destroyed: true })))
  })
  app.get('/reload', (req, res, next) => {
    req.session.reload((err) => (err ? next(err) : res.json(body(req))))
  })
  app.get('/bigint', (req, res) => {
    req.session.big = 1n
    res.json({ ok: true })
  })
  app.get('/static/:file', (req, res) => {
    res.type('text/plain').send(`static ${req.params.file}; session: ${req.session === undefined ? 'none' : 'loaded'}`)
  })
  app.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(500).json({ error: err.name })
  })
  return app
}

export interface StartOptions {
  count?: number
  routes?: string[]
  cluster?: Partial<SessionClusterInit>
  session?: Omit<ClusterSessionOptions, 'cluster' | 'secret'>
}

/** N nodes in this process, each with its own cluster (loopback TCP), middleware, store and HTTP server. */
export async function startNodes(options: StartOptions = {}): Promise<TestNode[]> {
  const routes = options.routes ?? ['nodeA', 'nodeB', 'nodeC'].slice(0, options.count ?? 3)
  const ports = await freePorts(routes.length)
  const members = ports.map((p) => `127.0.0.1:${p}`)
  const nodes = routes.map((route, i) => {
    const sessions = clusterSession({
      secret: SECRET,
      ...options.session,
      cluster: { ...FAST_CLUSTER, ...options.cluster, route, host: '127.0.0.1', port: ports[i], members },
    })
    const app = cartApp(route, sessions)
    return { route, app, sessions, cluster: sessions.cluster, server: createServer(app) }
  })
  await Promise.all(nodes.map((n) => n.sessions.ready))
  await Promise.all(nodes.map((n) => new Promise<void>((resolve) => n.server.listen(0, '127.0.0.1', resolve))))
  await waitFor(() => nodes.every((n) => n.cluster.status().members.filter((m) => m.state === 'alive').length >= routes.length - 1))
  return nodes
}

export async function stopNodes(nodes: TestNode[]): Promise<void> {
  await Promise.all(
    nodes.map(async (n) => {
      n.server.closeAllConnections()
      await new Promise((resolve) => n.server.close(resolve))
      await n.sessions.close()
    }),
  )
}

/** The `sid=...` pair from a response's Set-Cookie, or undefined. */
export function sessionCookie(res: { headers: Record<string, unknown> }, name = 'sid'): string | undefined {
  const header = res.headers['set-cookie']
  const list = Array.isArray(header) ? header : typeof header === 'string' ? [header] : []
  for (const c of list as string[]) {
    const pair = c.split(';')[0]!
    if (pair.startsWith(`${name}=`)) return pair
  }
  return undefined
}

export { createSessionCluster }
