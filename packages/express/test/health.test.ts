import express from 'express'
import request from 'supertest'
import { describe, expect, it } from 'vitest'
import { soloCluster } from '../../core/test/support/adapter-tests.js'
import { healthRoutes } from '../src/index.js'

const solo = soloCluster()

describe('healthRoutes (Express)', () => {
  it('answers ready and live as JSON, uncached', async () => {
    const cluster = await solo()
    const health = healthRoutes(cluster)
    const app = express()
    app.get('/health/ready', health.ready)
    app.get('/health/live', health.live)
    const ready = await request(app).get('/health/ready')
    expect(ready.status).toBe(200)
    expect(ready.body).toEqual({ ok: true, route: 'solo', reasons: [] })
    expect(ready.headers['cache-control']).toBe('no-store')
    expect((await request(app).get('/health/live')).status).toBe(200)
    health.close()
  })

  it('answers 503 with the reason while the node is not started', async () => {
    const { createSessionCluster, silentLogger } = await import('@session-cluster/core')
    const cluster = createSessionCluster({ route: 'late', port: 0, logger: silentLogger })
    const health = healthRoutes(cluster)
    const app = express()
    app.get('/health/ready', health.ready)
    const ready = await request(app).get('/health/ready')
    expect(ready.status).toBe(503)
    expect(ready.body.reasons).toEqual(['joining: state transfer in progress'])
    health.close()
    await cluster.stop()
  })
})
