import { createHmac } from 'node:crypto'
import type { SessionCluster, SessionClusterInit } from '@session-cluster/core'
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import { type ClusterSessionOptions, clusterSession } from '../../src/index.js'

declare module 'fastify' {
  interface Session {
    items?: string[]
    [key: string]: unknown
  }
}

import { SECRET, waitFor } from '../../../core/test/support/adapter-tests.js'
import { FAST_CLUSTER } from '../../../core/test/support/fast-cluster.js'

export { FAST_CLUSTER }
export { idOf, SECRET, sessionMessagesSent, waitFor } from '../../../core/test/support/adapter-tests.js'

export interface TestNode {
  route: string
  app: FastifyInstance
  cluster: SessionCluster
}

/** A Fastify cart app with the example contract's routes (root README) plus regenerate/destroy/reload. */
export async function cartApp(route: string, options: ClusterSessionOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: false })
  await app.register(clusterSession, options)
  const body = (request: import('fastify').FastifyRequest) => {
    const attrs: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(request.session ?? {})) if (k !== 'cookie') attrs[k] = v
    return {
      node: route,
      sessionId: request.session.sessionId,
      originalId: request.sessionOriginalId,
      items: request.session.items ?? [],
      attrs,
    }
  }
  app.get<{ Querystring: { add?: string } }>('/cart', async (request) => {
    const { add } = request.query
    if (typeof add === 'string') {
      request.session.items ??= []
      request.session.items.push(add)
    }
    return body(request)
  })
  app.get<{ Querystring: { key?: string; value?: string } }>('/attr', async (request) => {
    const { key, value } = request.query
    if (typeof key === 'string' && typeof value === 'string') request.session[key] = value
    return body(request)
  })
  app.get('/regenerate', async (request) => {
    await request.session.regenerate()
    return body(request)
  })
  app.get('/destroy', async (request) => {
    await request.session.destroy()
    return { node: route, destroyed: true }
  })
  app.get('/reload', async (request) => {
    await request.session.reload()
    return body(request)
  })
  app.get('/bigint', async (request) => {
    request.session.big = 1n
    return { ok: true }
  })
  app.get<{ Params: { file: string } }>('/static/:file', async (request, reply) => {
    return reply.type('text/plain').send(`static ${request.params.file}; session: ${request.session === null ? 'none' : 'loaded'}`)
  })
  app.setErrorHandler((error: Error, _request, reply) => {
    reply.code(500).send({ error: error.name })
  })
  return app
}

export interface StartOptions {
  routes?: string[]
  cluster?: Partial<SessionClusterInit>
  session?: Omit<ClusterSessionOptions, 'cluster' | 'secret'>
}

/**
 * Fastify nodes in this process, each with its own cluster on loopback TCP. The first starts alone; the
 * others list the ones started before them (a node admits a peer that heartbeats it even if not listed).
 */
export async function startNodes(options: StartOptions = {}): Promise<TestNode[]> {
  const routes = options.routes ?? ['nodeA', 'nodeB', 'nodeC']
  const nodes: TestNode[] = []
  for (const route of routes) {
    const members = nodes.map((n) => `127.0.0.1:${n.cluster.local.address.port}`)
    const app = await cartApp(route, {
      secret: SECRET,
      ...options.session,
      cluster: { ...FAST_CLUSTER, ...options.cluster, route, host: '127.0.0.1', port: 0, members },
    })
    await app.ready()
    await app.cluster.whenReady()
    nodes.push({ route, app, cluster: app.cluster })
  }
  await waitFor(() => nodes.every((n) => n.cluster.status().members.filter((m) => m.state === 'alive').length >= routes.length - 1))
  return nodes
}

export async function stopNodes(nodes: TestNode[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.app.close()))
}

type Headers = Record<string, unknown> | Headers_
type Headers_ = { getSetCookie(): string[] }

/** The `sid=...` pair from a response's Set-Cookie (inject, supertest or fetch), or undefined. */
export function sessionCookie(res: LightMyRequestResponse | { headers: Headers }, name = 'sid'): string | undefined {
  const headers = res.headers as Headers
  const header = typeof (headers as Headers_).getSetCookie === 'function' ? (headers as Headers_).getSetCookie() : (headers as Record<string, unknown>)['set-cookie']
  const list = Array.isArray(header) ? header : typeof header === 'string' ? [header] : []
  // The last one wins in a browser (@fastify/session may clear the old cookie, then set the new one).
  let found: string | undefined
  for (const c of list as string[]) {
    const pair = c.split(';')[0]!
    if (pair.startsWith(`${name}=`)) found = pair
  }
  return found
}

/** What cookie-signature (express-session's signer) produces: `sid=s%3A<id>.<hmac-sha256 base64 without =>`. */
export function signedCookie(id: string, secret = SECRET): string {
  const sig = createHmac('sha256', secret).update(id).digest('base64').replace(/=+$/, '')
  return `sid=${encodeURIComponent(`s:${id}.${sig}`)}`
}

/** GET through inject with an optional cookie; the JSON body parsed. */
export async function get(node: TestNode, url: string, cookie?: string) {
  const res = await node.app.inject({ method: 'GET', url, headers: cookie ? { cookie } : {} })
  // biome-ignore lint/suspicious/noExplicitAny: test bodies are asserted field by field
  let json: any
  try {
    json = res.json()
  } catch {
    json = undefined
  }
  return { res, status: res.statusCode, body: json, text: res.body, cookie: sessionCookie(res) }
}
