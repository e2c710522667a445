import { describe, expect, it } from 'vitest'
import { callbackOrPromise, cookieMaxAgeChanged, cookieMaxInactiveMs, toClusterSession, toFrameworkSession } from '../src/adapter/index.js'
import type { LoadedSession } from '../src/cluster/session-cluster.js'

const loaded = (data: Record<string, unknown>, lastAccessedAt = Date.UTC(2026, 0, 1)): LoadedSession => ({
  id: 'x'.repeat(32) + '.n1',
  data,
  meta: { createdAt: lastAccessedAt, lastAccessedAt, maxInactiveMs: 60_000, route: 'n1' },
})

describe('the cookie attribute both adapters store', () => {
  it('stores the cookie without expires and rebuilds expires from the last access', () => {
    const session = { user: 'ann', cookie: { originalMaxAge: 60_000, expires: '2030-01-01T00:00:00.000Z', path: '/', httpOnly: true } }
    const { data, maxInactiveMs } = toClusterSession(session)
    expect(data).toEqual({ user: 'ann', cookie: { originalMaxAge: 60_000, path: '/', httpOnly: true } })
    expect(maxInactiveMs).toBe(60_000)
    const back = toFrameworkSession(loaded(data))
    expect(back.cookie).toEqual({ originalMaxAge: 60_000, path: '/', httpOnly: true, expires: '2026-01-01T00:01:00.000Z' })
  })

  it('keeps the loaded cookie when the framework only filled in fields it lacked (no rewrite on read)', () => {
    const before = loaded({ cookie: { originalMaxAge: 60_000, path: '/' } })
    const current = { cookie: { originalMaxAge: 59_999.4, path: '/', sameSite: 'lax', secure: false, expires: 'whenever' } }
    expect(toClusterSession(current, before).data.cookie).toBe(before.data.cookie)
    const changed = { cookie: { originalMaxAge: 60_000, path: '/app' } }
    expect(toClusterSession(changed, before).data.cookie).toEqual({ originalMaxAge: 60_000, path: '/app' })
  })

  it('a max age set, changed or removed is a change for touch; drift and an unchanged browser-session cookie are not', () => {
    const stored = (originalMaxAge: number | null) => ({ user: 'ann', cookie: { originalMaxAge, path: '/' } })
    const now = (originalMaxAge: number | null) => ({ cookie: { originalMaxAge, path: '/' } })
    expect(cookieMaxAgeChanged(now(30 * 86_400_000), stored(60_000))).toBe(true) // remember me
    expect(cookieMaxAgeChanged(now(null), stored(60_000))).toBe(true) // remember me off
    expect(cookieMaxAgeChanged(now(60_000), stored(null))).toBe(true) // a max age on a browser-session cookie
    expect(cookieMaxAgeChanged(now(59_999.4), stored(60_000))).toBe(false)
    expect(cookieMaxAgeChanged(now(null), stored(null))).toBe(false)
    expect(cookieMaxAgeChanged(now(null), { user: 'ann' })).toBe(false) // stored without a cookie
  })

  it('a browser-session cookie (no max age) takes the cluster default; millisecond drift is not a change', () => {
    expect(cookieMaxInactiveMs({ cookie: { originalMaxAge: null } })).toBeUndefined()
    expect(cookieMaxInactiveMs({ cookie: { originalMaxAge: 59_999 } }, loaded({ cookie: { originalMaxAge: 60_000 } }))).toBe(60_000)
    expect(cookieMaxInactiveMs({ cookie: { originalMaxAge: 30_000 } }, loaded({ cookie: { originalMaxAge: 60_000 } }))).toBe(30_000)
  })

  it('stores a cookie as its JSON would read back: toJSON, Dates, undefined, non-finite numbers, nested values', () => {
    const fixed = new Date(Date.UTC(2030, 0, 1))
    const asFramework = { toJSON: () => ({ expires: fixed, originalMaxAge: null, path: '/', secure: undefined, domain: null, sameSite: 'lax' }) }
    const odd = { expires: null, originalMaxAge: null, priority: Number.NaN, extra: { nested: [1, new Date(0)] }, fn: () => 1 }
    for (const cookie of [asFramework, odd]) {
      const { data } = toClusterSession({ cookie })
      expect(data.cookie).toEqual({ ...JSON.parse(JSON.stringify(cookie)), originalMaxAge: null })
    }
    expect(() => toClusterSession({ cookie: { originalMaxAge: null, big: 1n } })).toThrow()
  })

  it('callbackOrPromise serves callbacks (on a fresh tick) and promises', async () => {
    await expect(callbackOrPromise(undefined, async () => 7)).resolves.toBe(7)
    const viaCallback = await new Promise((resolve) => callbackOrPromise((err, v) => resolve([err, v]), async () => 8))
    expect(viaCallback).toEqual([null, 8])
    const failed = await new Promise((resolve) => callbackOrPromise((err) => resolve(err), () => Promise.reject(new Error('no'))))
    expect((failed as Error).message).toBe('no')
  })
})
