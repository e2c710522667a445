import fastifyCookie from '@fastify/cookie'
import fastifySession from '@fastify/session'
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { type ClusterStore, clusterSession, clusterStore } from '../src/index.js'
import { FAST_CLUSTER, SECRET, waitFor } from './support/nodes.js'

// ClusterStore under @fastify/session's own setup (its ids, no plugin), and the plugin's cookie dates.
const QUIET = { ...FAST_CLUSTER, expiryIntervalMs: 3_600_000 }
const DAY = 24 * 60 * 60 * 1000

const closers: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
})

async function bareApp(cookie: Record<string, unknown> = { secure: false }): Promise<{ app: FastifyInstance; store: ClusterStore }> {
  const store = clusterStore({ ...QUIET, route: 'bare', port: 0 })
  closers.push(() => store.close())
  const app = Fastify()
  await app.register(fastifyCookie)
  await app.register(fastifySession, { store, secret: SECRET, cookie })
  routes(app)
  closers.push(() => app.close())
  return { app, store }
}

function routes(app: FastifyInstance): void {
  app.get<{ Querystring: { value?: string } }>('/set', async (request) => {
    request.session.set('value', request.query.value)
    return { id: request.session.sessionId }
  })
  app.get('/get', async (request) => ({ id: request.session.sessionId, value: request.session.get('value') ?? null }))
  app.get('/save-bigint-then-fixed', async (request) => {
    request.session.set('value', 1n)
    const first = await request.session.save().then(
      () => null,
      (error: Error) => error.name,
    )
    request.session.set('value', 'fixed') // saved by @fastify/session's onSend
    return { id: request.session.sessionId, first }
  })
  app.get('/remember', async (request) => {
    request.session.cookie.maxAge = 30 * DAY
    return { maxAge: request.session.cookie.originalMaxAge }
  })
  app.get('/max-age', async (request) => ({ maxAge: request.session.cookie.originalMaxAge ?? null }))
}

const cookieOf = (res: LightMyRequestResponse) => {
  const header = res.headers['set-cookie']
  return String(Array.isArray(header) ? header[0] : header).split(';')[0]!
}
const expiresOf = (res: LightMyRequestResponse) => res.cookies[0]?.expires?.toUTCString()

describe('Fastify ClusterStore with @fastify/session’s own ids', () => {
  it('sessions keep @fastify/session’s default ids and work across requests', async () => {
    const { app } = await bareApp()
    const first = await app.inject('/set?value=apple')
    expect(first.json().id).toMatch(/^[A-Za-z0-9_-]{32}$/)
    const again = await app.inject({ url: '/get', headers: { cookie: cookieOf(first) } })
    expect(again.json()).toEqual({ id: first.json().id, value: 'apple' })
  })

  it('a fixed cookie.expires survives reloads, and the session ends on that date', async () => {
    const expires = new Date(Date.now() + 400)
    const { app, store } = await bareApp({ secure: false, expires })
    const first = await app.inject('/set?value=apple')
    expect(expiresOf(first)).toBe(expires.toUTCString())
    const again = await app.inject({ url: '/get', headers: { cookie: cookieOf(first) } })
    expect(again.json().value).toBe('apple')
    expect(expiresOf(again)).toBe(expires.toUTCString())
    expect((await store.get(first.json().id))?.cookie.expires).toBe(expires.toISOString())
    await waitFor(() => Date.now() > expires.getTime())
    expect(await store.get(first.json().id)).toBeNull()
    const after = await app.inject({ url: '/get', headers: { cookie: cookieOf(first) } })
    expect(after.json().value).toBeNull()
  })

  it('get never returns a session past its idle limit (checked on access, not by a sweep)', async () => {
    const { app, store } = await bareApp({ secure: false, maxAge: 50 })
    const first = await app.inject('/set?value=apple')
    const savedAt = Date.now()
    await waitFor(() => Date.now() > savedAt + 60)
    expect(await store.get(first.json().id)).toBeNull()
  })

  it('touch with a changed cookie max age ("remember me") stores the new cookie', async () => {
    const { app, store } = await bareApp({ secure: false, maxAge: 60_000 })
    const id = (await app.inject('/set?value=apple')).json().id as string
    const stored = (await store.get(id))!
    stored.cookie.originalMaxAge = 30 * DAY
    await store.touch(id, stored)
    expect(store.cluster.meta(id)?.maxInactiveMs).toBe(30 * DAY)
    expect((await store.get(id))?.cookie.originalMaxAge).toBe(30 * DAY)
  })
})

describe('Fastify ClusterStore: failed saves and touch', () => {
  it('after a failed save, a later save of the same Session stores it (the bare store retries)', async () => {
    const { app, store } = await bareApp()
    const res = await app.inject('/save-bigint-then-fixed')
    expect(res.json().first).toBe('UnserializableValueError')
    expect((await store.get(res.json().id))?.value).toBe('fixed')
    const again = await app.inject({ url: '/get', headers: { cookie: cookieOf(res) } })
    expect(again.json().value).toBe('fixed')
  })

  it('set reports every failure and stores the first good save of the same object', async () => {
    const { store } = await bareApp()
    await store.ready
    const sess = { value: 1n as unknown, cookie: { originalMaxAge: 60_000 } }
    await expect(store.set('same-object', sess)).rejects.toMatchObject({ name: 'UnserializableValueError' })
    await expect(store.set('same-object', sess)).rejects.toMatchObject({ name: 'UnserializableValueError' })
    sess.value = 'fixed'
    await store.set('same-object', sess)
    expect((await store.get('same-object'))?.value).toBe('fixed')
  })

  it('touch with a cookie that lost its max age ("remember me" off) stores a browser-session cookie', async () => {
    const { app, store } = await bareApp({ secure: false, maxAge: 60_000 })
    const id = (await app.inject('/set?value=apple')).json().id as string
    const stored = (await store.get(id))!
    await store.touch(id, { ...stored, cookie: { ...stored.cookie, originalMaxAge: null, expires: null } })
    expect((await store.get(id))?.cookie).toMatchObject({ originalMaxAge: null, expires: null })
    expect((await store.get(id))?.value).toBe('apple')
  })
})

describe('clusterSession (Fastify): "remember me" and failed saves', () => {
  // Only "on" goes through the plugin: @fastify/session rebuilds a loaded cookie from `cookie.originalMaxAge ||
  // cookie.maxAge` of the registration, so "off" (a null max age) comes back as the configured one with any store,
  // and it never calls `touch`. The store's touch of a removed max age is tested above.
  it('switched on lasts into the next request', async () => {
    const app = Fastify()
    await app.register(clusterSession, { secret: SECRET, cluster: { ...QUIET, route: 'remember', port: 0 }, cookie: { secure: false, maxAge: 60_000 } })
    routes(app)
    closers.push(() => app.close())
    const first = await app.inject('/set?value=apple')
    const cookie = cookieOf(first)
    await app.inject({ url: '/remember', headers: { cookie } })
    expect((await app.inject({ url: '/max-age', headers: { cookie } })).json().maxAge).toBe(30 * DAY)
    expect(app.cluster.meta(first.json().id)?.maxInactiveMs).toBe(30 * DAY)
  })

  it('a save that fails in the handler and is fixed there is stored; only the error response skips the save', async () => {
    const app = Fastify()
    await app.register(clusterSession, { secret: SECRET, cluster: { ...QUIET, route: 'retry', port: 0 }, cookie: { secure: false } })
    routes(app)
    closers.push(() => app.close())
    const res = await app.inject('/save-bigint-then-fixed')
    expect(res.json().first).toBe('UnserializableValueError')
    expect((await app.inject({ url: '/get', headers: { cookie: cookieOf(res) } })).json().value).toBe('fixed')
  })
})

describe('clusterSession (Fastify): a fixed cookie.expires', () => {
  it('is kept on every response, not replaced by null after the first reload', async () => {
    const expires = new Date(Date.now() + 60 * 60 * 1000)
    const app = Fastify()
    await app.register(clusterSession, { secret: SECRET, cluster: { ...QUIET, route: 'fixed', port: 0 }, cookie: { secure: false, expires } })
    routes(app)
    closers.push(() => app.close())
    const first = await app.inject('/set?value=apple')
    const cookie = cookieOf(first)
    for (let i = 0; i < 3; i++) {
      const res = await app.inject({ url: '/get', headers: { cookie } })
      expect(res.json().value).toBe('apple')
      expect(expiresOf(res)).toBe(expires.toUTCString())
    }
  })
})
