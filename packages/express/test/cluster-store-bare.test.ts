import type { SessionCluster } from '@session-cluster/core'
import express, { type Express } from 'express'
import session from 'express-session'
import request from 'supertest'
import { afterEach, describe, expect, it } from 'vitest'
import { type ClusterStore, clusterSession, clusterStore } from '../src/index.js'
import { FAST_CLUSTER, idOf, SECRET, waitFor } from './support/nodes.js'

// ClusterStore under express-session's own setup (express-session's ids, no clusterSession): what a
// connect-redis user does. Sweeps are an hour apart, so whatever expires here expired on access.
const QUIET = { ...FAST_CLUSTER, expiryIntervalMs: 3_600_000 }
const DAY = 24 * 60 * 60 * 1000
/** express-session derives originalMaxAge from the expiry it has just set: a millisecond may pass in between. */
const expect30Days = (ms: number | null | undefined) => expect(Math.abs((ms ?? 0) - 30 * DAY)).toBeLessThan(1_000)

let stores: ClusterStore[] = []
afterEach(async () => {
  await Promise.all(stores.map((s) => s.close()))
  stores = []
})

function newStore(route = 'bare'): ClusterStore {
  const store = clusterStore({ ...QUIET, route, port: 0 })
  stores.push(store)
  return store
}

function app(store: ClusterStore, cookie: session.CookieOptions = {}): Express {
  const a = express()
  a.use(session({ store, secret: SECRET, resave: false, saveUninitialized: false, cookie }))
  a.get('/set', (req, res) => {
    req.session.value = String(req.query.value)
    res.json({ id: req.sessionID })
  })
  a.get('/get', (req, res) => res.json({ id: req.sessionID, value: req.session.value ?? null }))
  a.get('/remember', (req, res) => {
    req.session.cookie.maxAge = 30 * DAY // only the cookie changes: express-session touches, it does not save
    res.json({ id: req.sessionID })
  })
  a.get('/forget', (req, res) => {
    req.session.cookie.maxAge = null as unknown as number // "remember me" off: a browser-session cookie again; express-session only touches
    res.json({ maxAge: req.session.cookie.originalMaxAge })
  })
  a.get('/max-age', (req, res) => res.json({ maxAge: req.session.cookie.originalMaxAge, expires: req.session.cookie.expires ?? null }))
  a.get('/save-too-large-then-fixed', (req, res, next) => {
    req.session.value = 'x'.repeat(2 * 1024 * 1024)
    req.session.save((first) => {
      req.session.value = 'fixed'
      req.session.save((second) => (second ? next(second) : res.json({ first: (first as Error | undefined)?.name ?? null })))
    })
  })
  a.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(500).json({ error: err.name, message: err.message })
  })
  return a
}

const cookieOf = (res: request.Response) => String(res.headers['set-cookie']?.[0] ?? '').split(';')[0]!
const clusterOf = (store: ClusterStore): SessionCluster => store.cluster

describe('ClusterStore with express-session’s own ids', () => {
  it('clusterStore() creates, starts and closes a store; two in one process do not collide', async () => {
    const one = newStore('one')
    const two = newStore('two')
    await Promise.all([one.ready, two.ready])
    expect(clusterOf(one).ready && clusterOf(two).ready).toBe(true)
    await one.close()
    await expect(clusterOf(one).save('some-id', { a: 1 })).rejects.toMatchObject({ name: 'NotStartedError' })
    await one.close() // idempotent
  })

  it('sessions keep express-session’s default ids and work across requests', async () => {
    const a = app(newStore())
    const first = await request(a).get('/set?value=apple').expect(200)
    const cookie = cookieOf(first)
    expect(first.body.id).toMatch(/^[A-Za-z0-9_-]{32}$/) // uid-safe, no route
    const again = await request(a).get('/get').set('Cookie', cookie).expect(200)
    expect(again.body).toEqual({ id: first.body.id, value: 'apple' })
  })

  it('get never returns a session past its idle limit (checked on access, not by a sweep)', async () => {
    const store = newStore()
    const a = app(store, { maxAge: 50 })
    const first = await request(a).get('/set?value=apple').expect(200)
    const savedAt = Date.now()
    expect(await store.get(first.body.id)).not.toBeNull()
    await waitFor(() => Date.now() > savedAt + 60)
    expect(await store.get(first.body.id)).toBeNull()
    const again = await request(a).get('/get').set('Cookie', cookieOf(first)).expect(200)
    expect(again.body.value).toBeNull()
    expect(again.body.id).not.toBe(first.body.id)
  })

  it('after a failed save, a later save in the same request stores the session', async () => {
    const store = newStore()
    const a = app(store)
    const res = await request(a).get('/save-too-large-then-fixed').expect(200)
    expect(res.body.first).toBe('SessionTooLargeError')
    const again = await request(a).get('/get').set('Cookie', cookieOf(res)).expect(200)
    expect(again.body.value).toBe('fixed')
  })

  it('"remember me" (only cookie.maxAge changed) lasts: the next request carries the new expiry', async () => {
    const store = newStore()
    const a = app(store, { maxAge: 60_000 })
    const first = await request(a).get('/set?value=apple').expect(200)
    const cookie = cookieOf(first)
    await request(a).get('/remember').set('Cookie', cookie).expect(200)
    expect30Days(clusterOf(store).meta(first.body.id)?.maxInactiveMs)
    const stored = await store.get(first.body.id)
    expect30Days(stored?.cookie.originalMaxAge)
    const next = await request(a).get('/get').set('Cookie', cookie).expect(200)
    expect(next.body.value).toBe('apple')
    expect30Days((await store.get(first.body.id))?.cookie.originalMaxAge)
  })

  it('"remember me" switched off (cookie.maxAge = null) lasts: the next request has a browser-session cookie', async () => {
    const store = newStore()
    const a = app(store, { maxAge: 60_000 })
    const first = await request(a).get('/set?value=apple').expect(200)
    const cookie = cookieOf(first)
    expect((await request(a).get('/forget').set('Cookie', cookie).expect(200)).body.maxAge).toBeNull()
    expect((await store.get(first.body.id))?.cookie.originalMaxAge).toBeNull()
    const next = await request(a).get('/max-age').set('Cookie', cookie).expect(200)
    expect(next.body).toEqual({ maxAge: null, expires: null })
  })

  it('touch outside a request stores a removed max age and keeps the stored attributes', async () => {
    const store = newStore()
    const first = await request(app(store, { maxAge: 60_000 })).get('/set?value=apple').expect(200)
    const sess = (await store.get(first.body.id))!
    await store.touch(first.body.id, { ...sess, value: 'not stored by touch', cookie: { ...sess.cookie, originalMaxAge: null, expires: null } } as never)
    expect(await store.get(first.body.id)).toMatchObject({ value: 'apple', cookie: { originalMaxAge: null, expires: null } })
  })

  it('a session stored without a cookie is returned without one: express-session reports it cannot inflate it', async () => {
    const store = newStore()
    const a = app(store)
    const first = await request(a).get('/set?value=apple').expect(200)
    await store.set(first.body.id, { value: 'no cookie' } as unknown as session.SessionData)
    expect(await store.get(first.body.id)).toEqual({ value: 'no cookie' })
    const res = await request(a).get('/get').set('Cookie', cookieOf(first))
    expect(res.status).toBe(500)
  })

  it('errors reach the callback, once', async () => {
    const store = newStore()
    await store.ready
    const calls: unknown[] = []
    await new Promise<void>((resolve) => {
      store.set('x'.repeat(300), { cookie: { originalMaxAge: null } } as unknown as session.SessionData, (err) => {
        calls.push(err)
        resolve()
      })
    })
    await new Promise((resolve) => setImmediate(resolve))
    expect(calls).toHaveLength(1)
    expect(calls[0]).toMatchObject({ name: 'InvalidParametersError' })
  })
})

describe('clusterSession: "remember me" with the sync barrier', () => {
  it('a request that only changes cookie.maxAge is saved before the response, and the next request keeps it', async () => {
    const sessions = clusterSession({ secret: SECRET, cluster: { ...QUIET, route: 'rm', port: 0 }, cookie: { maxAge: 60_000 } })
    try {
      const a = express()
      a.use(sessions)
      a.get('/set', (req, res) => {
        req.session.value = 'apple'
        res.json({ id: req.sessionID })
      })
      a.get('/remember', (req, res) => {
        req.session.cookie.maxAge = 30 * DAY
        res.json({ id: req.sessionID })
      })
      a.get('/get', (req, res) => res.json({ maxAge: req.session.cookie.originalMaxAge }))
      const first = await request(a).get('/set').expect(200)
      const cookie = cookieOf(first)
      await request(a).get('/remember').set('Cookie', cookie).expect(200)
      expect30Days(sessions.cluster.meta(idOf(cookie))?.maxInactiveMs)
      expect30Days((await request(a).get('/get').set('Cookie', cookie).expect(200)).body.maxAge)
    } finally {
      await sessions.close()
    }
  })
})
