import { createHmac } from 'node:crypto'
import { InvalidParametersError } from '@session-cluster/core'
import request from 'supertest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clusterSession } from '../src/index.js'
import { idOf, SECRET, sessionCookie, startNodes, stopNodes, type TestNode, waitFor } from './support/nodes.js'

/** What cookie-signature (express-session's signer) produces: `s:<value>.<hmac-sha256 base64 without =>`. */
function signedCookie(id: string, secret = SECRET): string {
  const sig = createHmac('sha256', secret).update(id).digest('base64').replace(/=+$/, '')
  return `sid=${encodeURIComponent(`s:${id}.${sig}`)}`
}

async function newSession(node: TestNode, item = 'apple'): Promise<string> {
  const res = await request(node.server).get(`/cart?add=${item}`)
  expect(res.status).toBe(200)
  const cookie = sessionCookie(res)
  expect(cookie).toBeDefined()
  return cookie!
}

describe('clusterSession: three nodes, sync replication', () => {
  let nodes: TestNode[]
  let a: TestNode
  let b: TestNode
  let c: TestNode
  beforeAll(async () => {
    nodes = await startNodes()
    ;[a, b, c] = nodes as [TestNode, TestNode, TestNode]
  })
  afterAll(() => stopNodes(nodes))

  it('a session created on A is read on B and C; an in-place push on B is seen on A', async () => {
    const cookie = await newSession(a)
    const id = idOf(cookie)
    expect(id).toMatch(/^[A-Za-z0-9_-]{32}\.nodeA$/)
    for (const node of [b, c]) {
      const res = await request(node.server).get('/cart').set('Cookie', cookie)
      expect(res.body).toMatchObject({ node: node.route, sessionId: id, items: ['apple'] })
      expect(sessionCookie(res)).toBeUndefined()
    }
    await request(b.server).get('/cart?add=pear').set('Cookie', cookie).expect(200)
    const onA = await request(a.server).get('/cart').set('Cookie', cookie)
    expect(onA.body.items).toEqual(['apple', 'pear'])
  })

  it('concurrent requests on A and B changing different attributes both survive, on every node', async () => {
    const cookie = await newSession(a)
    for (let round = 0; round < 5; round++) {
      await Promise.all([
        request(a.server).get(`/attr?key=fromA&value=a${round}`).set('Cookie', cookie).expect(200),
        request(b.server).get(`/attr?key=fromB&value=b${round}`).set('Cookie', cookie).expect(200),
      ])
      for (const node of nodes) {
        const res = await request(node.server).get('/attr').set('Cookie', cookie)
        expect(res.body.attrs).toMatchObject({ fromA: `a${round}`, fromB: `b${round}`, items: ['apple'] })
      }
    }
  })

  it('sync mode: a write followed at once by a read on another node always sees the write', async () => {
    const cookie = await newSession(a, 'i0')
    for (let i = 1; i <= 50; i++) {
      const writer = nodes[i % 3]!
      const reader = nodes[(i + 1) % 3]!
      await request(writer.server).get(`/cart?add=i${i}`).set('Cookie', cookie).expect(200)
      const res = await request(reader.server).get('/cart').set('Cookie', cookie)
      expect(res.body.items).toHaveLength(i + 1)
      expect(res.body.items[i]).toBe(`i${i}`)
    }
  })

  it('static paths neither create nor load a session and send no cluster message', async () => {
    const cookie = await newSession(a)
    const id = idOf(cookie)
    const sizes = nodes.map((n) => n.cluster.size)
    // Background traffic (coalesced access flushes, expiry checks) runs on timers: count what a request
    // would send (deltas) and what it would record locally (a touch moves lastAccessedAt).
    const deltas = () => nodes.map((n) => n.cluster.status().counters['channel.sent.rd'] ?? 0)
    const before = deltas()
    const accessedOnB = b.cluster.meta(id)?.lastAccessedAt
    for (const path of ['/static/app.js', '/static/logo.PNG', '/static/style.css?v=3', '/static/font.woff2']) {
      for (const cookieHeader of [undefined, cookie]) {
        const req = request(b.server).get(path)
        const res = await (cookieHeader ? req.set('Cookie', cookieHeader) : req)
        expect(res.status).toBe(200)
        expect(res.text).toContain('session: none')
        expect(sessionCookie(res)).toBeUndefined()
      }
    }
    expect(nodes.map((n) => n.cluster.size)).toEqual(sizes)
    expect(deltas()).toEqual(before)
    expect(b.cluster.meta(id)?.lastAccessedAt).toBe(accessedOnB)
  })

  it('tampered signature, malformed id, unknown id or route, oversized cookie: a fresh session, existing ones untouched', async () => {
    const cookie = await newSession(a, 'keep')
    const id = idOf(cookie)
    const base = id.slice(0, id.lastIndexOf('.'))
    const value = decodeURIComponent(cookie.slice(4))
    const tampered = `sid=${encodeURIComponent(value.slice(0, -1) + (value.endsWith('A') ? 'B' : 'A'))}`
    const hostile = [
      tampered,
      signedCookie('not-a-valid-id'),
      // an id we never issued, with a route that never existed (a known random part resolves whatever its
      // route: the signature covers the route, and a route that lost a concurrent rebind must still work)
      signedCookie(`${base.slice(0, -4)}QQQQ.nodeZ`),
      signedCookie(`${base}`),
      signedCookie(`../../${base}.nodeA`),
      `sid=${'x'.repeat(8 * 1024)}`,
      signedCookie(`${'y'.repeat(8 * 1024)}.nodeA`),
    ]
    for (const bad of hostile) {
      const res = await request(b.server).get('/attr?key=fresh&value=1').set('Cookie', bad)
      expect(res.status).toBe(200)
      expect(res.body.sessionId).not.toBe(id)
      expect(res.body.sessionId).toMatch(/\.nodeB$/)
      expect(res.body.attrs).toEqual({ fresh: '1' })
    }
    for (const node of nodes) {
      const res = await request(node.server).get('/attr').set('Cookie', cookie)
      expect(res.body).toMatchObject({ sessionId: id, attrs: { items: ['keep'] } })
    }
  })

  it('regenerate on one node is seen on the others: old id gone, new id readable', async () => {
    const cookie = await newSession(a, 'before')
    const res = await request(b.server).get('/regenerate').set('Cookie', cookie)
    expect(res.status).toBe(200)
    const renewed = sessionCookie(res)!
    expect(renewed).toBeDefined()
    expect(idOf(renewed)).not.toBe(idOf(cookie))
    expect(idOf(renewed)).toMatch(/\.nodeB$/)
    const onC = await request(c.server).get('/cart').set('Cookie', renewed)
    expect(onC.body.sessionId).toBe(idOf(renewed))
    for (const node of [a, c]) {
      const old = await request(node.server).get('/cart').set('Cookie', cookie)
      expect(old.body.items).toEqual([])
      expect(old.body.sessionId).not.toBe(idOf(cookie))
    }
  })

  it('destroy on one node is seen on the others', async () => {
    const cookie = await newSession(a, 'gone')
    const res = await request(c.server).get('/destroy').set('Cookie', cookie)
    expect(res.body).toEqual({ node: 'nodeC', destroyed: true })
    for (const node of nodes) {
      const after = await request(node.server).get('/cart').set('Cookie', cookie)
      expect(after.body.items).toEqual([])
      expect(after.body.sessionId).not.toBe(idOf(cookie))
    }
  })

  it('reload reads the replicated state', async () => {
    const cookie = await newSession(a, 'r1')
    await request(b.server).get('/cart?add=r2').set('Cookie', cookie).expect(200)
    const res = await request(c.server).get('/reload').set('Cookie', cookie)
    expect(res.body.items).toEqual(['r1', 'r2'])
  })

  it('a value that cannot be stored is an error response, not a crash; the session keeps its data', async () => {
    const cookie = await newSession(a, 'safe')
    const res = await request(a.server).get('/bigint').set('Cookie', cookie)
    expect(res.status).toBe(500)
    expect(res.body.error).toBe('UnserializableValueError')
    const after = await request(b.server).get('/cart').set('Cookie', cookie)
    expect(after.body).toMatchObject({ sessionId: idOf(cookie), items: ['safe'] })
  })

  it('an unmodified session is touched, not replicated: no delta per request', async () => {
    const cookie = await newSession(a)
    const before = a.cluster.status().counters['channel.sent.rd'] ?? 0
    for (let i = 0; i < 10; i++) await request(a.server).get('/cart').set('Cookie', cookie).expect(200)
    expect(a.cluster.status().counters['channel.sent.rd'] ?? 0).toBe(before)
  })
})

describe('clusterSession: failover rebinding', () => {
  let nodes: TestNode[]
  beforeAll(async () => {
    nodes = await startNodes()
  })
  afterAll(() => stopNodes(nodes))

  it('keeps the cookie while the owner lives, rebinds to the serving node once it is gone', async () => {
    const [a, b, c] = nodes as [TestNode, TestNode, TestNode]
    const cookie = await newSession(a, 'cart-item')
    const id = idOf(cookie)

    // Round-robin sent the request elsewhere while A lives: no new cookie, no rebind.
    for (const node of [b, c]) {
      const res = await request(node.server).get('/cart').set('Cookie', cookie)
      expect(res.body).toMatchObject({ sessionId: id, items: ['cart-item'] })
      expect(res.body.originalId).toBeUndefined()
      const set = sessionCookie(res)
      if (set) expect(idOf(set)).toBe(id)
    }

    await a.sessions.close()
    await waitFor(() => !b.cluster.isRouteLive('nodeA') && !c.cluster.isRouteLive('nodeA'))

    const res = await request(b.server).get('/cart').set('Cookie', cookie)
    expect(res.status).toBe(200)
    const rebound = sessionCookie(res)
    expect(rebound).toBeDefined()
    const newId = idOf(rebound!)
    expect(newId).toBe(`${id.slice(0, id.lastIndexOf('.'))}.nodeB`)
    expect(res.body).toMatchObject({ sessionId: newId, originalId: id, items: ['cart-item'] })

    // The rebound session replicated: C reads it under the new id, and changes keep working.
    await request(c.server).get('/cart?add=more').set('Cookie', rebound!).expect(200)
    const onB = await request(b.server).get('/cart').set('Cookie', rebound!)
    expect(onB.body).toMatchObject({ sessionId: newId, items: ['cart-item', 'more'] })
    expect(sessionCookie(onB)).toBeUndefined()
  })
})

describe('clusterSession: expiry and rolling', () => {
  let nodes: TestNode[]
  beforeAll(async () => {
    nodes = await startNodes({ count: 2, session: { rolling: true, cookie: { maxAge: 600 } } })
  })
  afterAll(() => stopNodes(nodes))

  it('rolling: every response re-sends the cookie with a fresh expiry; use keeps the session alive', async () => {
    const [a, b] = nodes as [TestNode, TestNode]
    const cookie = await newSession(a, 'rolling')
    const started = Date.now()
    let i = 0
    while (Date.now() - started < 1500) {
      const node = nodes[i++ % 2]!
      const res = await request(node.server).get('/cart').set('Cookie', cookie)
      expect(res.body.items).toEqual(['rolling'])
      const header = String(res.headers['set-cookie'])
      expect(header).toContain(cookie.split(';')[0])
      expect(header).toMatch(/Expires=/)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    // Left alone (polling the clusters, not HTTP: a request would touch it), it expires on every node.
    await waitFor(() => nodes.every((n) => n.cluster.meta(idOf(cookie)) === undefined), { timeoutMs: 10_000, stepMs: 50 })
    for (const node of [a, b]) {
      const res = await request(node.server).get('/cart').set('Cookie', cookie)
      expect(res.body.items).toEqual([])
      expect(res.body.sessionId).not.toBe(idOf(cookie))
    }
  })
})

describe('clusterSession: without rolling', () => {
  let nodes: TestNode[]
  beforeAll(async () => {
    nodes = await startNodes({ count: 2, session: { cookie: { maxAge: 60_000 } } })
  })
  afterAll(() => stopNodes(nodes))

  it('an unmodified request sends no cookie; a modifying one does (express-session semantics)', async () => {
    const [a, b] = nodes as [TestNode, TestNode]
    const cookie = await newSession(a)
    const read = await request(b.server).get('/cart').set('Cookie', cookie)
    expect(sessionCookie(read)).toBeUndefined()
    const write = await request(b.server).get('/cart?add=x').set('Cookie', cookie)
    expect(sessionCookie(write)).toBe(cookie.split(';')[0])
  })

  it('a request that does not touch the session creates none (saveUninitialized false)', async () => {
    const [a] = nodes as [TestNode]
    const size = a.cluster.size
    const res = await request(a.server).get('/cart')
    expect(sessionCookie(res)).toBeUndefined()
    expect(a.cluster.size).toBe(size)
  })
})

describe('clusterSession: options are validated up front', () => {
  const cluster = { route: 'v', port: 0 }
  const cases: Array<[string, Record<string, unknown>]> = [
    ['missing secret', { cluster }],
    ['empty secret', { cluster, secret: '' }],
    ['empty secret array', { cluster, secret: [] }],
    ['genid', { cluster, secret: SECRET, genid: () => 'x' }],
    ['store', { cluster, secret: SECRET, store: {} }],
    ['unknown option', { cluster, secret: SECRET, saveUninitalized: true }],
    ['bad rebind', { cluster, secret: SECRET, rebind: 'sometimes' }],
    ['bad staticFilter', { cluster, secret: SECRET, staticFilter: '*.js' }],
    ['bad name', { cluster, secret: SECRET, name: 'a b' }],
    ['bad rolling', { cluster, secret: SECRET, rolling: 'yes' }],
    ['bad unset', { cluster, secret: SECRET, unset: 'drop' }],
    ['bad cookie.maxAge', { cluster, secret: SECRET, cookie: { maxAge: -1 } }],
    ['missing cluster', { secret: SECRET }],
    ['bad cluster option', { secret: SECRET, cluster: { route: 'bad route!', port: 0 } }],
  ]
  it.each(cases)('%s → InvalidParametersError at construction', (_name, options) => {
    expect(() => clusterSession(options as never)).toThrow(InvalidParametersError)
  })

  it('a cluster passed in is used and not stopped by close()', async () => {
    const { createSessionCluster, silentLogger } = await import('@session-cluster/core')
    const own = createSessionCluster({ route: 'own', port: 0, logger: silentLogger })
    const sessions = clusterSession({ secret: [SECRET, 'the previous secret, also long enough'], cluster: own })
    expect(sessions.cluster).toBe(own)
    await sessions.ready
    await sessions.close()
    expect(own.ready).toBe(true)
    await own.save(own.generateId(), { still: 'running' })
    await own.stop()
  })
})
