import { describe, expect, it } from 'vitest'
import { soloCluster } from '../../core/test/support/adapter-tests.js'
import { staleWhenAsked } from '../../core/test/support/stale-cluster.js'
import Fastify from 'fastify'
import { clusterSession } from '../src/index.js'
import { SECRET, sessionCookie } from './support/nodes.js'

const cluster = soloCluster()

describe('a node that cannot confirm a session is up to date', () => {
  it('answers 503 (so nginx retries on another node), and serves again once it can', async () => {
    const { cluster: node, stale } = staleWhenAsked(await cluster())
    // No error handler of its own: Fastify's default one answers with the error's statusCode.
    const app = Fastify({ logger: false })
    await app.register(clusterSession, { secret: SECRET, cluster: node })
    app.get<{ Querystring: { add?: string } }>('/cart', async (request) => {
      const { add } = request.query
      if (typeof add === 'string') {
        request.session.items ??= []
        request.session.items.push(add)
      }
      return { items: request.session.items ?? [] }
    })
    try {
      const first = await app.inject({ method: 'GET', url: '/cart?add=apple' })
      expect(first.statusCode).toBe(200)
      const cookie = sessionCookie(first)!
      stale.on = true
      const refused = await app.inject({ method: 'GET', url: '/cart', headers: { cookie } })
      expect(refused.statusCode).toBe(503)
      stale.on = false
      const again = await app.inject({ method: 'GET', url: '/cart', headers: { cookie } })
      expect(again.statusCode).toBe(200)
      expect(again.json().items).toEqual(['apple'])
    } finally {
      await app.close()
    }
  })
})
