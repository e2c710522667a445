import { soloCluster } from '../../core/test/support/adapter-tests.js'
import { staleWhenAsked } from '../../core/test/support/stale-cluster.js'
import request from 'supertest'
import { describe, expect, it } from 'vitest'
import { clusterSession } from '../src/index.js'
import express from 'express'
import { SECRET } from './support/nodes.js'

const cluster = soloCluster()

describe('a node that cannot confirm a session is up to date', () => {
  it('answers 503 (so nginx retries on another node), and serves again once it can', async () => {
    const { cluster: node, stale } = staleWhenAsked(await cluster())
    const sessions = clusterSession({ secret: SECRET, cluster: node })
    // No error handler of its own: Express's default one answers with the error's status.
    const app = express()
    app.use(sessions)
    app.get('/cart', (req, res) => {
      const items = ((req.session as { items?: string[] }).items ??= [])
      if (typeof req.query.add === 'string') items.push(req.query.add)
      res.json({ items })
    })
    const first = await request(app).get('/cart?add=apple')
    expect(first.status).toBe(200)
    const cookie = first.headers['set-cookie']![0]!.split(';')[0]!
    stale.on = true
    const refused = await request(app).get('/cart').set('Cookie', cookie)
    expect(refused.status).toBe(503)
    stale.on = false
    const again = await request(app).get('/cart').set('Cookie', cookie)
    expect(again.status).toBe(200)
    expect(again.body.items).toEqual(['apple'])
  })
})
