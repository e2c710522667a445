import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type ClusterSessionMiddleware, clusterSession as expressClusterSession } from '@session-cluster/express'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cartApp as expressCartApp } from '../../express/test/support/nodes.js'
import { FAST_CLUSTER, get, idOf, SECRET, sessionCookie, signedCookie, startNodes, type TestNode, waitFor } from './support/nodes.js'

// One Express node (express-session + @session-cluster/express) and one Fastify node in one cluster, same
// cookie name and secret: a user can be served by either, with one cookie.
describe('mixed cluster: an Express node and a Fastify node share sessions', () => {
  let fastifyNode: TestNode
  let sessions: ClusterSessionMiddleware
  let server: Server
  let base = ''
  /** GET on the Express node over real HTTP; the JSON body and the session cookie it set. */
  const onExpress = async (path: string, cookie?: string) => {
    const res = await fetch(base + path, { headers: cookie ? { cookie } : {} })
    expect(res.status).toBe(200)
    return { body: (await res.json()) as { sessionId: string; items: string[]; attrs: Record<string, unknown> }, cookie: sessionCookie(res) }
  }
  const deltasSent = () => fastifyNode.cluster.status().counters['channel.sent.rd'] ?? 0

  beforeAll(async () => {
    ;[fastifyNode] = (await startNodes({ routes: ['fast'] })) as [TestNode]
    sessions = expressClusterSession({
      secret: SECRET,
      name: 'sid',
      cluster: { ...FAST_CLUSTER, route: 'expr', host: '127.0.0.1', port: 0, members: [`127.0.0.1:${fastifyNode.cluster.local.address.port}`] },
    })
    server = createServer(expressCartApp('expr', sessions))
    await sessions.ready
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    await waitFor(() => fastifyNode.cluster.isRouteLive('expr') && sessions.cluster.isRouteLive('fast'))
  })
  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
    await sessions.close()
    await fastifyNode.app.close()
  })

  it('created on Express, read and changed on Fastify with the same cookie, seen back on Express', async () => {
    const created = await onExpress('/cart?add=from-express')
    const cookie = created.cookie!
    expect(cookie).toBeDefined()
    const id = idOf(cookie)
    expect(id).toMatch(/\.expr$/)

    const read = await get(fastifyNode, '/cart', cookie)
    expect(read.body).toMatchObject({ node: 'fast', sessionId: id, items: ['from-express'] })
    // rolling re-sends the very same cookie, byte for byte (s%3A<id>.<sig>, URL-encoded like express-session)
    expect(read.cookie).toBe(cookie)

    await get(fastifyNode, '/cart?add=from-fastify', cookie)
    await get(fastifyNode, '/attr?key=who&value=fastify', cookie)
    const back = await onExpress('/attr', cookie)
    expect(back.body).toMatchObject({ node: 'expr', sessionId: id, attrs: { items: ['from-express', 'from-fastify'], who: 'fastify' } })
  })

  it('created on Fastify, read and changed on Express with the same cookie, seen back on Fastify', async () => {
    const created = await get(fastifyNode, '/cart?add=from-fastify')
    const cookie = created.cookie!
    const id = idOf(cookie)
    expect(id).toMatch(/\.fast$/)
    expect(cookie).toBe(signedCookie(id))

    const read = await onExpress('/cart', cookie)
    expect(read.body).toMatchObject({ node: 'expr', sessionId: id, items: ['from-fastify'] })
    await onExpress('/cart?add=from-express', cookie)
    await onExpress('/attr?key=who&value=express', cookie)

    const back = await get(fastifyNode, '/attr', cookie)
    expect(back.body).toMatchObject({ sessionId: id, attrs: { items: ['from-fastify', 'from-express'], who: 'express' } })
  })

  it("reading an Express session on Fastify replicates nothing (the other framework's cookie shape is not a change)", async () => {
    const cookie = (await onExpress('/cart?add=quiet')).cookie!
    const before = deltasSent()
    for (let i = 0; i < 5; i++) expect((await get(fastifyNode, '/cart', cookie)).body.items).toEqual(['quiet'])
    expect(deltasSent()).toBe(before)
  })

  it('concurrent writes from both frameworks to different attributes both survive', async () => {
    const cookie = (await onExpress('/cart?add=base')).cookie!
    for (let round = 0; round < 5; round++) {
      await Promise.all([
        onExpress(`/attr?key=e&value=e${round}`, cookie),
        get(fastifyNode, `/attr?key=f&value=f${round}`, cookie),
      ])
      const onFastify = await get(fastifyNode, '/attr', cookie)
      const viaExpress = await onExpress('/attr', cookie)
      for (const attrs of [onFastify.body.attrs, viaExpress.body.attrs]) {
        expect(attrs).toMatchObject({ e: `e${round}`, f: `f${round}`, items: ['base'] })
      }
    }
  })
})
