import { afterEach, beforeEach, describe, expect, it } from 'vitest'

/**
 * A reusable compliance suite for session stores in the express-session / @fastify/session shape.
 * Required surface: get/set/destroy with callbacks. touch/all/length/clear and promise returns are
 * tested only when the store has them. Ids come from the harness (stores may require their own format).
 *
 * @example
 * storeComplianceSuite('ClusterStore', async () => { const c = ...; return { store, newId: () => c.generateId(), close } })
 */

type Cb<T = unknown> = (err: unknown, value?: T) => void

/** The store surface the suite drives; every optional method is probed before use. */
export interface CompliantStore {
  get(sid: string, cb: Cb): unknown
  set(sid: string, session: unknown, cb: Cb): unknown
  destroy(sid: string, cb: Cb): unknown
  touch?(sid: string, session: unknown, cb: Cb): unknown
  all?(cb: Cb): unknown
  length?(cb: Cb): unknown
  clear?(cb: Cb): unknown
}

export interface StoreHarness {
  store: CompliantStore
  /** A fresh session id the store accepts. */
  newId(): string
  /** Wrap plain session data in what the framework would pass to `set` (default: the data itself). */
  wrap?(sid: string, data: Record<string, unknown>): unknown
  /** Whether methods return a promise when no callback is given (connect-redis >= 8.1 style). @default false */
  promises?: boolean
  /** Longest a store may take to drop an expired session. @default 5000 */
  expiryWithinMs?: number
  close(): Promise<void>
}

function call<T = unknown>(fn: (cb: Cb<T>) => unknown): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    fn((err, value) => (err ? reject(err) : resolve(value)))
  })
}

function cookie(maxAgeMs: number | null, now = Date.now()) {
  return {
    originalMaxAge: maxAgeMs,
    expires: maxAgeMs === null ? null : new Date(now + maxAgeMs).toISOString(),
    httpOnly: true,
    path: '/',
  }
}

/** The user data of a stored session, without the cookie (stores rebuild cookie.expires). */
function userData(sess: unknown): Record<string, unknown> {
  const { cookie: _cookie, ...rest } = (sess ?? {}) as Record<string, unknown>
  return rest
}

function countOf(all: unknown): number {
  if (Array.isArray(all)) return all.length
  return all && typeof all === 'object' ? Object.keys(all).length : 0
}

export function storeComplianceSuite(name: string, factory: () => Promise<StoreHarness>): void {
  describe(`${name}: session store compliance`, () => {
    let h: StoreHarness
    let store: CompliantStore
    const wrap = (sid: string, data: Record<string, unknown>) => (h.wrap ? h.wrap(sid, data) : data)
    const get = (sid: string) => call((cb) => store.get(sid, cb))
    const set = (sid: string, data: Record<string, unknown>) => call((cb) => store.set(sid, wrap(sid, data), cb))
    const destroy = (sid: string) => call((cb) => store.destroy(sid, cb))

    beforeEach(async () => {
      h = await factory()
      store = h.store
    })
    afterEach(async () => {
      await h.close()
    })

    it('get of an unknown id gives null (or undefined), not an error', async () => {
      expect(await get(h.newId())).toBeFalsy()
    })

    it('get of a malformed id gives null, not an error', async () => {
      expect(await get('not an id at all')).toBeFalsy()
    })

    it('set then get returns the data, including nested values, with a cookie', async () => {
      const sid = h.newId()
      const data = { user: 'ada', cart: [{ sku: 'a1', qty: 2 }], flags: { admin: false }, n: 0, s: '' }
      await set(sid, { ...data, cookie: cookie(60_000) })
      const got = (await get(sid)) as Record<string, unknown>
      expect(userData(got)).toEqual(data)
      expect(got.cookie).toBeTypeOf('object')
    })

    it('set overwrites: removed attributes are gone, changed ones updated', async () => {
      const sid = h.newId()
      await set(sid, { a: 1, b: 2, cookie: cookie(60_000) })
      await set(sid, { a: 3, cookie: cookie(60_000) })
      expect(userData(await get(sid))).toEqual({ a: 3 })
    })

    it('get returns a copy: mutating it does not change the store', async () => {
      const sid = h.newId()
      await set(sid, { list: [1], cookie: cookie(60_000) })
      const first = (await get(sid)) as { list: number[] }
      first.list.push(2)
      expect(userData(await get(sid))).toEqual({ list: [1] })
    })

    it('cookie: originalMaxAge is kept and expires is an ISO date about maxAge ahead', async () => {
      const sid = h.newId()
      const before = Date.now()
      await set(sid, { a: 1, cookie: cookie(60_000) })
      const got = (await get(sid)) as { cookie: { originalMaxAge: number; expires: string } }
      expect(got.cookie.originalMaxAge).toBeGreaterThan(59_000)
      expect(got.cookie.originalMaxAge).toBeLessThanOrEqual(60_000)
      const expires = Date.parse(got.cookie.expires)
      expect(Number.isNaN(expires)).toBe(false)
      expect(expires).toBeGreaterThanOrEqual(before + 55_000)
      expect(expires).toBeLessThanOrEqual(Date.now() + 61_000)
    })

    it('cookie without maxAge (browser-session cookie) stays without expiry', async () => {
      const sid = h.newId()
      await set(sid, { a: 1, cookie: cookie(null) })
      const got = (await get(sid)) as { cookie: { expires?: unknown } }
      expect(userData(got)).toEqual({ a: 1 })
      expect(got.cookie.expires ?? null).toBeNull()
    })

    it('destroy removes the session; destroying an unknown id is not an error', async () => {
      const sid = h.newId()
      await set(sid, { a: 1, cookie: cookie(60_000) })
      await destroy(sid)
      expect(await get(sid)).toBeFalsy()
      await destroy(h.newId())
    })

    it('sessions are independent of each other', async () => {
      const [s1, s2] = [h.newId(), h.newId()]
      await set(s1, { who: 1, cookie: cookie(60_000) })
      await set(s2, { who: 2, cookie: cookie(60_000) })
      await destroy(s1)
      expect(await get(s1)).toBeFalsy()
      expect(userData(await get(s2))).toEqual({ who: 2 })
    })

    it('a value that cannot be serialised (BigInt) gives an error, not a crash, and leaves the session as it was', async () => {
      const sid = h.newId()
      await set(sid, { a: 1, cookie: cookie(60_000) })
      await expect(set(sid, { a: 2, big: 10n, cookie: cookie(60_000) })).rejects.toBeInstanceOf(Error)
      expect(userData(await get(sid))).toEqual({ a: 1 })
    })

    it('a session expires after its cookie max age', async () => {
      const sid = h.newId()
      await set(sid, { a: 1, cookie: cookie(200) })
      expect(userData(await get(sid))).toEqual({ a: 1 })
      const deadline = Date.now() + (h.expiryWithinMs ?? 5000)
      let got: unknown = true
      while (got && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50))
        got = await get(sid)
      }
      expect(got).toBeFalsy()
    })

    it('touch (when supported) keeps the session and its data', async (ctx) => {
      if (!store.touch) return ctx.skip()
      const sid = h.newId()
      await set(sid, { a: 1, cookie: cookie(60_000) })
      const sess = (await get(sid)) as Record<string, unknown>
      await call((cb) => store.touch!(sid, wrap(sid, sess as Record<string, unknown>), cb))
      expect(userData(await get(sid))).toEqual({ a: 1 })
    })

    it('touch (when supported) postpones expiry', async (ctx) => {
      if (!store.touch) return ctx.skip()
      const sid = h.newId()
      await set(sid, { a: 1, cookie: cookie(800) })
      const sess = (await get(sid)) as Record<string, unknown>
      // Touch well within the max age for longer than the max age: the session must survive.
      for (let i = 0; i < 6; i++) {
        await new Promise((resolve) => setTimeout(resolve, 200))
        await call((cb) => store.touch!(sid, wrap(sid, { ...sess, cookie: cookie(800) }), cb))
      }
      expect(userData(await get(sid))).toEqual({ a: 1 })
    })

    it('touch (when supported) of an unknown session is not an error', async (ctx) => {
      if (!store.touch) return ctx.skip()
      await call((cb) => store.touch!(h.newId(), wrap('x', { cookie: cookie(60_000) }), cb))
    })

    it('all, length and clear (when supported) agree', async (ctx) => {
      if (!store.all && !store.length && !store.clear) return ctx.skip()
      const ids = [h.newId(), h.newId(), h.newId()]
      for (const [i, sid] of ids.entries()) await set(sid, { i, cookie: cookie(60_000) })
      if (store.length) expect(await call((cb) => store.length!(cb))).toBe(3)
      if (store.all) {
        const all = await call((cb) => store.all!(cb))
        expect(countOf(all)).toBe(3)
        const sessions = Array.isArray(all) ? all : Object.values(all as object)
        expect(sessions.map((s) => (s as { i: number }).i).sort()).toEqual([0, 1, 2])
      }
      if (store.clear) {
        await call((cb) => store.clear!(cb))
        for (const sid of ids) expect(await get(sid)).toBeFalsy()
        if (store.length) expect(await call((cb) => store.length!(cb))).toBe(0)
        if (store.all) expect(countOf(await call((cb) => store.all!(cb)))).toBe(0)
      }
    })

    it('methods return promises when no callback is given (when supported)', async (ctx) => {
      if (!h.promises) return ctx.skip()
      const p = store as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>
      const sid = h.newId()
      await p.set!(sid, wrap(sid, { a: 1, cookie: cookie(60_000) }))
      expect(userData(await p.get!(sid))).toEqual({ a: 1 })
      if (p.touch) await p.touch(sid, wrap(sid, { a: 1, cookie: cookie(60_000) }))
      if (p.length) expect(await p.length()).toBe(1)
      if (p.all) expect(countOf(await p.all())).toBe(1)
      await expect(p.set!(sid, wrap(sid, { big: 1n, cookie: cookie(60_000) }))).rejects.toBeInstanceOf(Error)
      await p.destroy!(sid)
      expect(await p.get!(sid)).toBeFalsy()
      if (p.clear) await p.clear()
    })

    it('callbacks are called exactly once, asynchronously', async () => {
      const sid = h.newId()
      let calls = 0
      let sync = true
      await new Promise<void>((resolve, reject) => {
        store.set(sid, wrap(sid, { a: 1, cookie: cookie(60_000) }), (err) => {
          calls++
          if (err) reject(err)
          else if (sync) reject(new Error('callback called synchronously'))
          else resolve()
        })
        sync = false
      })
      await new Promise((resolve) => setTimeout(resolve, 20))
      expect(calls).toBe(1)
    })
  })
}
