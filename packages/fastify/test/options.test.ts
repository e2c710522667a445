import { Writable } from 'node:stream'
import fastifyCookie from '@fastify/cookie'
import { createSessionCluster, InvalidParametersError, silentLogger } from '@session-cluster/core'
import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import clusterSessionDefault, { AlreadyRegisteredError, type ClusterSessionOptions, clusterSession } from '../src/index.js'
import { get, SECRET } from './support/nodes.js'

const cluster = { route: 'v', port: 0, logger: silentLogger }

async function registerWith(options: Record<string, unknown>) {
  const app = Fastify({ logger: false })
  try {
    await app.register(clusterSession, options as unknown as ClusterSessionOptions)
    await app.ready()
  } finally {
    await app.close()
  }
}

describe('clusterSession (Fastify): options are validated up front', () => {
  const cases: Array<[string, Record<string, unknown>]> = [
    ['missing secret', { cluster }],
    ['short secret', { cluster, secret: 'too short' }],
    ['empty secret array', { cluster, secret: [] }],
    ['short secret in array', { cluster, secret: [SECRET, 'short'] }],
    ['signer object as secret', { cluster, secret: { sign: () => '', unsign: () => ({}) } }],
    ['store', { cluster, secret: SECRET, store: {} }],
    ['idGenerator', { cluster, secret: SECRET, idGenerator: () => 'x' }],
    ['unknown option', { cluster, secret: SECRET, saveUninitalized: true }],
    ['bad rebind', { cluster, secret: SECRET, rebind: 'sometimes' }],
    ['bad staticFilter', { cluster, secret: SECRET, staticFilter: '*.js' }],
    ['bad cookieName', { cluster, secret: SECRET, cookieName: 'a b' }],
    ['bad cookiePrefix', { cluster, secret: SECRET, cookiePrefix: 1 }],
    ['bad rolling', { cluster, secret: SECRET, rolling: 'yes' }],
    ['bad saveUninitialized', { cluster, secret: SECRET, saveUninitialized: 1 }],
    ['bad cookie', { cluster, secret: SECRET, cookie: 'secure' }],
    ['bad cookie.maxAge', { cluster, secret: SECRET, cookie: { maxAge: -1 } }],
    ['missing cluster', { secret: SECRET }],
    ['bad cluster option', { secret: SECRET, cluster: { route: 'bad route!', port: 0 } }],
  ]
  it.each(cases)('%s → InvalidParametersError at registration', async (_name, options) => {
    await expect(registerWith(options)).rejects.toBeInstanceOf(InvalidParametersError)
  })

  it('refuses a second registration, and registration next to @fastify/session, with AlreadyRegisteredError', async () => {
    const app = Fastify({ logger: false })
    await app.register(clusterSession, { secret: SECRET, cluster })
    const second = app.register(clusterSessionDefault, { secret: SECRET, cluster: { ...cluster, route: 'w' } })
    await expect(second).rejects.toMatchObject({ name: 'AlreadyRegisteredError' })
    await app.close()

    const other = Fastify({ logger: false })
    await other.register(fastifyCookie)
    await other.register((await import('@fastify/session')).default, { secret: SECRET })
    await expect(other.register(clusterSession, { secret: SECRET, cluster })).rejects.toBeInstanceOf(AlreadyRegisteredError)
    await other.close()
  })

  it('a cluster passed in is used, started, and not stopped on close; @fastify/cookie registered before is reused', async () => {
    const own = createSessionCluster({ route: 'own', port: 0, logger: silentLogger })
    const app = Fastify({ logger: false })
    await app.register(fastifyCookie)
    await app.register(clusterSession, { secret: [SECRET, `old ${SECRET}`], cluster: own })
    app.get('/count', async (request) => ({ n: (request.session.n = ((request.session.n as number) ?? 0) + 1) }))
    await app.ready()
    expect(app.cluster).toBe(own)
    await own.whenReady()
    const first = await get({ route: 'own', app, cluster: own }, '/count')
    const second = await get({ route: 'own', app, cluster: own }, '/count', first.cookie)
    expect(second.body).toEqual({ n: 2 })
    await app.close()
    expect(own.ready).toBe(true)
    await own.save(own.generateId(), { still: 'running' })
    await own.stop()
  })

  it('a cluster the plugin created is stopped on close and logs through the Fastify logger', async () => {
    const lines: Array<Record<string, unknown>> = []
    const stream = new Writable({
      write(chunk, _enc, cb) {
        for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line))
        cb()
      },
    })
    const app = Fastify({ logger: { level: 'info', stream } })
    await app.register(clusterSession, { secret: SECRET, cluster: { route: 'logs', port: 0 } })
    await app.ready()
    await app.cluster.whenReady()
    const created = app.cluster
    await app.close()
    await expect(created.save(created.generateId(), { a: 1 })).rejects.toMatchObject({ name: 'NotStartedError' })
    const ours = lines.filter((l) => l.plugin === '@session-cluster/fastify')
    expect(ours.length).toBeGreaterThan(0)
    expect(ours.some((l) => /stopped/.test(String(l.msg)))).toBe(true)
  })

  it('requests that arrive before the cluster is ready wait for it instead of failing', async () => {
    const app = Fastify({ logger: false })
    await app.register(clusterSession, { secret: SECRET, cluster: { ...cluster, route: 'early' } })
    app.get('/x', async (request) => {
      request.session.x = 1
      return { ready: app.cluster.ready }
    })
    await app.ready()
    const res = await app.inject('/x')
    expect(res.json()).toEqual({ ready: true })
    await app.close()
  })

  it('default cookie: HttpOnly, Path=/, SameSite=Lax, Secure only over HTTPS (secure: auto)', async () => {
    const app = Fastify({ logger: false, trustProxy: true })
    await app.register(clusterSession, { secret: SECRET, cluster: { ...cluster, route: 'c0' } })
    app.get('/x', async (request) => {
      request.session.x = 1
      return {}
    })
    await app.ready()
    const plain = String((await app.inject('/x')).headers['set-cookie'])
    expect(plain).toMatch(/^sid=s%3A[A-Za-z0-9_-]{32}\.c0\.[A-Za-z0-9%]+; Path=\/; HttpOnly; SameSite=Lax$/)
    const tls = String((await app.inject({ url: '/x', headers: { 'x-forwarded-proto': 'https' } })).headers['set-cookie'])
    expect(tls).toMatch(/; Secure/)
    await app.close()
  })

  it('cookie options pass through (maxAge becomes the session idle limit)', async () => {
    const app = Fastify({ logger: false })
    await app.register(clusterSession, {
      secret: SECRET,
      cluster: { ...cluster, route: 'c1' },
      cookie: { secure: false, maxAge: 60_000, sameSite: 'strict', path: '/app' },
    })
    app.get('/app/x', async (request) => {
      request.session.x = 1
      return {}
    })
    await app.ready()
    const header = String((await app.inject('/app/x')).headers['set-cookie'])
    expect(header).toMatch(/^sid=s%3A/)
    expect(header).toMatch(/Path=\/app/)
    expect(header).toMatch(/SameSite=Strict/)
    expect(header).toMatch(/Expires=/)
    expect(header).not.toMatch(/Secure/)
    expect(app.cluster.meta(app.cluster.ids()[0]!)?.maxInactiveMs).toBe(60_000)
    await app.close()
  })
})
