import { createServer, type Server } from 'node:http'
import express from 'express'
import request from 'supertest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ClusterSessionMiddleware, clusterSession } from '../src/index.js'
import { FAST_CLUSTER, freePorts, SECRET } from './support/nodes.js'

/**
 * express-session splits a response around an asynchronous store call (all but the last byte, then the rest a
 * tick later). If the node dies in between, nginx holds half a response it cannot retry. With the sync barrier
 * the save happens before `end`, and the store's touch answers synchronously: every response is one `end`.
 */
describe('responses are not split around store calls', () => {
  let server: Server
  let sessions: ClusterSessionMiddleware
  const writesBeforeEnd: number[] = []

  beforeAll(async () => {
    const [port] = await freePorts(1)
    sessions = clusterSession({ secret: SECRET, cluster: { ...FAST_CLUSTER, route: 'solo', host: '127.0.0.1', port: port!, members: [] } })
    const app = express()
    app.use((_req, res, next) => {
      // installed before the session middleware, so express-session's own writes go through it too
      let writes = 0
      const write = res.write.bind(res)
      res.write = ((...args: Parameters<typeof write>) => {
        writes++
        return write(...args)
      }) as typeof res.write
      res.on('finish', () => writesBeforeEnd.push(writes))
      next()
    })
    app.use(sessions)
    app.get('/attr', (req, res) => {
      const { key, value } = req.query
      if (typeof key === 'string' && typeof value === 'string') (req.session as unknown as Record<string, string>)[key] = value
      res.json({ ok: true })
    })
    await sessions.ready
    server = createServer(app)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  })
  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
    await sessions.close()
  })

  it('a new session, a change to an existing one, and a read of it each end in a single write', async () => {
    const first = await request(server).get('/attr?key=a&value=1')
    const cookie = first.headers['set-cookie']![0]!.split(';')[0]!
    await request(server).get('/attr?key=b&value=2').set('Cookie', cookie)
    await request(server).get('/attr').set('Cookie', cookie)
    expect(writesBeforeEnd).toEqual([0, 0, 0])
  })
})
