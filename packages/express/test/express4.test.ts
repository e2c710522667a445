import { createServer, type Server } from 'node:http'
import express4 from 'express4'
import request from 'supertest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ClusterSessionMiddleware, clusterSession } from '../src/index.js'
import { FAST_CLUSTER, freePorts, SECRET } from './support/nodes.js'

/** The same middleware under Express 4 (the other tests run Express 5): two nodes, read-anywhere, in-place changes. */
describe('clusterSession on Express 4', () => {
  const nodes: Array<{ server: Server; sessions: ClusterSessionMiddleware }> = []

  beforeAll(async () => {
    const ports = await freePorts(2)
    const members = ports.map((p) => `127.0.0.1:${p}`)
    for (const [i, route] of ['e4a', 'e4b'].entries()) {
      const sessions = clusterSession({ secret: SECRET, cluster: { ...FAST_CLUSTER, route, host: '127.0.0.1', port: ports[i], members } })
      const app = express4()
      app.use(sessions)
      app.get('/cart', (req, res) => {
        const session = req.session as unknown as { items?: string[] }
        session.items ??= []
        if (typeof req.query.add === 'string') session.items.push(req.query.add)
        res.json({ node: route, sessionId: req.sessionID, items: session.items })
      })
      nodes.push({ server: createServer(app), sessions })
    }
    await Promise.all(nodes.map((n) => n.sessions.ready))
    for (const n of nodes) await new Promise<void>((resolve) => n.server.listen(0, '127.0.0.1', resolve))
    const meshed = async () => nodes.every((n) => n.sessions.cluster.status().members.length === 1)
    for (let i = 0; i < 200 && !(await meshed()); i++) await new Promise((r) => setTimeout(r, 25))
  })
  afterAll(async () => {
    for (const n of nodes) {
      n.server.closeAllConnections()
      await new Promise((resolve) => n.server.close(resolve))
      await n.sessions.close()
    }
  })

  it('a session created on one node is read and changed in place on the other', async () => {
    const first = await request(nodes[0]!.server).get('/cart?add=apple')
    const cookie = first.headers['set-cookie']![0]!.split(';')[0]!
    expect(first.body.sessionId).toMatch(/\.e4a$/)
    const second = await request(nodes[1]!.server).get('/cart?add=pear').set('Cookie', cookie)
    expect(second.body).toMatchObject({ node: 'e4b', sessionId: first.body.sessionId, items: ['apple', 'pear'] })
    const back = await request(nodes[0]!.server).get('/cart').set('Cookie', cookie)
    expect(back.body.items).toEqual(['apple', 'pear'])
  })
})
