import { afterEach, describe, expect, it } from 'vitest'
import Fastify, { type FastifyInstance } from 'fastify'
import { soloCluster } from '../../core/test/support/adapter-tests.js'
import { clusterSession, healthRoutes } from '../src/index.js'
import { FAST_CLUSTER, SECRET } from './support/nodes.js'

const solo = soloCluster()
let app: FastifyInstance | undefined
afterEach(() => app?.close())

describe('healthRoutes (Fastify)', () => {
  it('answers ready and live from a scope registered before the session plugin, without creating a session', async () => {
    app = Fastify({ logger: false })
    await app.register(healthRoutes)
    await app.register(clusterSession, { secret: SECRET, cluster: { route: 'node1', port: 0, ...FAST_CLUSTER } })
    await app.cluster.whenReady()
    const ready = await app.inject('/health/ready')
    expect(ready.statusCode).toBe(200)
    expect(ready.json()).toEqual({ ok: true, route: 'node1', reasons: [] })
    expect(ready.headers['set-cookie']).toBeUndefined()
    const live = await app.inject('/health/live')
    expect(live.statusCode).toBe(200)
    expect(app.cluster.size).toBe(0)
  })

  it('takes a given node and other paths', async () => {
    const cluster = await solo()
    app = Fastify({ logger: false })
    await app.register(healthRoutes, { cluster, readyPath: '/ready', livePath: '/live' })
    expect((await app.inject('/ready')).json()).toMatchObject({ ok: true, route: 'solo' })
    expect((await app.inject('/live')).statusCode).toBe(200)
  })

  it('is not ready before the session plugin exists', async () => {
    app = Fastify({ logger: false })
    await app.register(healthRoutes)
    const ready = await app.inject('/health/ready')
    expect(ready.statusCode).toBe(503)
    expect(ready.json().reasons).toEqual(['the session cluster is not set up yet'])
  })
})
